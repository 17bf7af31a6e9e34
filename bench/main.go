// Command bench is baton's benchmark suite: `go run ./bench SCENARIO`
// (throughput, auth, mixed, scale, cli, logflood, steps or all) runs a real baton server in
// process on 127.0.0.1 (SQLite in a temp dir, PostgreSQL in a fresh
// database that is dropped afterwards), River beside it, and writes the
// scenario's section of BENCHMARKS.md at the repository root.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

const riverVersion = "v0.51.2"

type opts struct {
	quick     bool
	runs      int
	pg        string
	out       string
	mixedDur  time.Duration
	floodDur  time.Duration
	scaleRows int
	args      string
	stores    []string
	tasks     int // throughput: tasks per run
	depth     int // throughput: the deep queue
	cpuProf   string
}

func (o opts) pick(quick, full int) int {
	if o.quick {
		return quick
	}
	return full
}

func (o opts) pickDur(quick, full time.Duration) time.Duration {
	if o.quick {
		return quick
	}
	return full
}

func (o opts) flagText() string {
	if o.args == "" {
		return ""
	}
	return o.args + " "
}

// report collects sections and headlines.
type report struct {
	mu       sync.Mutex
	sections [][2]string
	headline []string
}

func (r *report) section(name, body string) {
	r.mu.Lock()
	r.sections = append(r.sections, [2]string{name, body})
	r.mu.Unlock()
}

var (
	errorLinesMu sync.Mutex
	errorLines   = map[string]int64{}
)

func logf(format string, a ...any) {
	fmt.Fprintf(os.Stderr, time.Now().Format("15:04:05 ")+format+"\n", a...)
}

func main() {
	if os.Getenv(stepAgentEnv) == "1" { // the steps scenario's agent
		os.Exit(stepAgent())
	}
	var o opts
	flag.BoolVar(&o.quick, "quick", false, "small sizes and short phases (CI)")
	flag.IntVar(&o.runs, "runs", 3, "interleaved runs per measurement (median)")
	flag.StringVar(&o.pg, "pg", envOr("BATON_BENCH_POSTGRES_URL", envOr("BATON_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable")), "PostgreSQL URL; the suite makes and drops its own database there")
	flag.StringVar(&o.out, "out", "", "markdown file to update (default BENCHMARKS.md at the repository root)")
	flag.DurationVar(&o.mixedDur, "mixed-duration", 60*time.Second, "duration of the mixed scenario (-quick: 3s)")
	flag.DurationVar(&o.floodDur, "flood-duration", 5*time.Minute, "how long the logflood scenario floods (-quick: 5s)")
	flag.IntVar(&o.scaleRows, "scale-tasks", 1_000_000, "tasks loaded by the scale scenario (usage events: 10×; -quick: 20 000)")
	flag.IntVar(&o.tasks, "tasks", 2000, "throughput: tasks per run (-quick: 300)")
	flag.IntVar(&o.depth, "depth", 100_000, "throughput: tasks queued for the deep-queue rates (-quick: 5 000)")
	flag.StringVar(&o.cpuProf, "cpuprofile", "", "pickup and mixed: write a CPU profile of the load (pickup: its 16-claimer run) to this file")
	store := flag.String("store", "both", "throughput and steps: sqlite, postgres or both")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: go run ./bench [flags] throughput|auth|mixed|scale|cli|logflood|steps|all")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 1 {
		flag.Usage()
		os.Exit(2)
	}
	var set []string
	flag.Visit(func(f *flag.Flag) {
		if f.Name != "out" && f.Name != "pg" {
			set = append(set, "-"+f.Name+"="+f.Value.String())
		}
	})
	o.args = strings.Join(set, " ")
	switch *store {
	case "both":
		o.stores = []string{"sqlite", "postgres"}
	case "sqlite", "postgres":
		o.stores = []string{*store}
	default:
		flag.Usage()
		os.Exit(2)
	}
	if o.quick {
		if !isSet("mixed-duration") {
			o.mixedDur = 3 * time.Second
		}
		if !isSet("flood-duration") {
			o.floodDur = 5 * time.Second
		}
		if !isSet("tasks") {
			o.tasks = 300
		}
		if !isSet("depth") {
			o.depth = 5000
		}
		if !isSet("scale-tasks") {
			o.scaleRows = 20_000
		}
	}
	if o.out == "" {
		o.out = filepath.Join(repoRoot(), "BENCHMARKS.md")
	}
	scenarios := map[string]func(context.Context, opts, *report) error{
		"throughput": runThroughput, "auth": runAuth, "mixed": runMixed, "scale": runScale, "cli": runCLI,
		"logflood": runLogFlood, "steps": runSteps,
	}
	order := []string{"throughput", "auth", "mixed", "scale", "cli", "logflood", "steps"}
	name := flag.Arg(0)
	if name == "pickup" { // a dev tool: prints, writes nothing
		if err := runPickup(context.Background(), o); err != nil {
			fmt.Fprintln(os.Stderr, "bench pickup:", err)
			os.Exit(1)
		}
		return
	}
	if name != "all" {
		if scenarios[name] == nil {
			flag.Usage()
			os.Exit(2)
		}
		order = []string{name}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	r := &report{}
	start := time.Now()
	failed := false
	for _, s := range order {
		t := time.Now()
		logf("scenario %s", s)
		if err := scenarios[s](ctx, o, r); err != nil {
			fmt.Fprintf(os.Stderr, "bench %s: %v\n", s, err)
			failed = true
			continue
		}
		logf("scenario %s done in %s", s, time.Since(t).Round(time.Second))
		// written after every scenario, so an interrupted `all` keeps what ran
		if err := write(ctx, o, r, name, time.Since(start)); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
	}
	for _, h := range r.headline {
		fmt.Println(h)
	}
	fmt.Printf("wrote %s in %s\n", o.out, time.Since(start).Round(time.Second))
	if failed {
		os.Exit(1)
	}
}

func isSet(name string) bool {
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

func envOr(k, d string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return d
}

// repoRoot is the directory above the bench module (the working directory
// when it has go.mod and bench/, else its parent).
func repoRoot() string {
	wd, _ := os.Getwd()
	for d := wd; d != "/"; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "bench", "go.mod")); err == nil {
			return d
		}
	}
	return wd
}

func write(ctx context.Context, o opts, r *report, name string, took time.Duration) error {
	old, err := os.ReadFile(o.out)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	doc := string(old)
	if doc == "" {
		doc = "# Benchmarks\n\nWritten by `go run ./bench SCENARIO` (the `bench/` module; see bench/README.md). Each scenario rewrites its own section; the header says when and where the last run was.\n"
	}
	errorLinesMu.Lock()
	var errs []string
	for k, v := range errorLines {
		errs = append(errs, fmt.Sprintf("%s: %d", k, v))
	}
	errorLinesMu.Unlock()
	mode := "full"
	if o.quick {
		mode = "quick (-quick: small sizes, not for comparison)"
	}
	head := fmt.Sprintf("Last run: `cd bench && go run . %s%s` (%s), %s, took %s.\n\nMachine: %s.\n",
		o.flagText(), name, mode, time.Now().UTC().Format("2006-01-02 15:04 UTC"), took.Round(time.Second), machine(ctx, o.pg))
	if len(errs) > 0 {
		head += "\nServer ERROR log lines per scenario: " + strings.Join(sorted(errs), ", ") + ".\n"
	}
	// One scenario alone keeps the header of the last `all` run.
	if name == "all" || !strings.Contains(doc, "<!-- bench:header -->") {
		doc = upsertSection(doc, "header", head)
	}
	for _, s := range r.sections {
		doc = upsertSection(doc, s[0], s[1])
	}
	return os.WriteFile(o.out, []byte(doc), 0o644)
}

func noteErrors(scenario string, n int64) {
	errorLinesMu.Lock()
	errorLines[scenario] += n
	errorLinesMu.Unlock()
}

func sorted(xs []string) []string {
	slices.Sort(xs)
	return xs
}
