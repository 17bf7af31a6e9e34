package output

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/genericcorp/baton/internal/iostreams"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// now is the fixed clock of every test.
var now = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

type task struct {
	ID         string            `json:"id"`
	Queue      string            `json:"queue"`
	Status     string            `json:"status"`
	Priority   int               `json:"priority"`
	Input      json.RawMessage   `json:"input"`
	Labels     map[string]string `json:"labels,omitempty"`
	CostMicros int64             `json:"cost_micros"`
	CreatedAt  time.Time         `json:"created_at"`
	FinishedAt *time.Time        `json:"finished_at"`
	Note       string            `json:"note,omitempty"`
}

func tasks() []task {
	fin := now.Add(-90 * time.Second)
	return []task{
		{ID: "task_01", Queue: "default", Status: "succeeded", Priority: 0,
			Input: json.RawMessage(`{"prompt":"hi <b>&</b>"}`), Labels: map[string]string{"env": "prod"},
			CostMicros: 9007199254740993, CreatedAt: now.Add(-3 * time.Minute), FinishedAt: &fin},
		{ID: "task_02", Queue: "agents", Status: "queued", Priority: 5,
			Input: json.RawMessage(`null`), CreatedAt: now.Add(-49 * time.Hour),
			Note: "multi\tline\nnote, \"quoted\""},
		{ID: "task_03", Queue: "agents", Status: "running", Priority: -1,
			Input: json.RawMessage(`[1,2]`), CreatedAt: now.Add(2 * 24 * time.Hour)},
	}
}

func taskTable(ts []task) func(TimeFormatter) Table {
	return func(tf TimeFormatter) Table {
		t := Table{Headers: []string{"id", "queue", "status", "priority", "created_at", "finished_at", "note"}}
		for _, x := range ts {
			t.Rows = append(t.Rows, []string{x.ID, x.Queue, x.Status, strconv.Itoa(x.Priority),
				tf.Time(x.CreatedAt), tf.TimePtr(x.FinishedAt), x.Note})
		}
		return t
	}
}

func taskFields(x task) func(TimeFormatter) [][2]string {
	return func(tf TimeFormatter) [][2]string {
		return [][2]string{
			{"id", x.ID}, {"status", x.Status}, {"input", "{\n  \"prompt\": \"hi\"\n}"},
			{"created_at", tf.Time(x.CreatedAt)}, {"finished_at", tf.TimePtr(x.FinishedAt)},
			{"note", x.Note},
		}
	}
}

type setup struct {
	tty, color bool
	width      int
	// stderr lets the case write to stderr: it is appended to the golden
	// output after a "--- stderr" line.
	stderr bool
	filter Filter
}

func run(t *testing.T, f Format, s setup, print func(p *Printer) error) []byte {
	t.Helper()
	ios, _, out, errOut := iostreams.Test()
	ios.SetStdoutTTY(s.tty)
	ios.SetColorEnabled(s.color)
	if s.width > 0 {
		ios.SetTerminalWidth(s.width)
	}
	p := New(ios, f, WithNow(func() time.Time { return now }), WithFilter(s.filter))
	if err := print(p); err != nil {
		t.Fatalf("print: %v", err)
	}
	if s.stderr {
		return append(out.Bytes(), []byte("--- stderr\n"+errOut.String())...)
	}
	if errOut.Len() != 0 {
		t.Fatalf("wrote to stderr: %q", errOut.String())
	}
	return out.Bytes()
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/output -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file\n--- got:\n%s\n--- want:\n%s", path, got, want)
	}
}

func TestGolden(t *testing.T) {
	piped, tty := setup{}, setup{tty: true, width: 200}
	list := tasks()
	one := list[0]
	cases := []struct {
		name string
		f    Format
		s    setup
		fn   func(p *Printer) error
	}{
		{"list_table_tty", FormatTable, tty, func(p *Printer) error { return p.Print(list, taskTable(list)) }},
		{"list_table_tty_color", FormatTable, setup{tty: true, color: true, width: 200}, func(p *Printer) error { return p.Print(list, taskTable(list)) }},
		{"list_table_tty_narrow", FormatTable, setup{tty: true, width: 60}, func(p *Printer) error { return p.Print(list, taskTable(list)) }},
		{"list_table_piped", FormatTable, piped, func(p *Printer) error { return p.Print(list, taskTable(list)) }},
		{"list_csv_tty", FormatCSV, tty, func(p *Printer) error { return p.Print(list, taskTable(list)) }},
		{"list_csv_piped", FormatCSV, piped, func(p *Printer) error { return p.Print(list, taskTable(list)) }},
		{"list_json", FormatJSON, piped, func(p *Printer) error { return p.Print(list, taskTable(list)) }},
		{"list_jsonl", FormatJSONL, piped, func(p *Printer) error { return p.Print(list, taskTable(list)) }},
		{"list_yaml", FormatYAML, piped, func(p *Printer) error { return p.Print(list, taskTable(list)) }},

		{"empty_table_tty", FormatTable, setup{tty: true, width: 200, stderr: true}, func(p *Printer) error { return p.Print([]task{}, taskTable(nil)) }},
		{"empty_table_piped", FormatTable, piped, func(p *Printer) error { return p.Print([]task{}, taskTable(nil)) }},
		{"empty_csv", FormatCSV, piped, func(p *Printer) error { return p.Print([]task{}, taskTable(nil)) }},
		{"empty_json", FormatJSON, piped, func(p *Printer) error { return p.Print([]task(nil), taskTable(nil)) }},
		{"empty_jsonl", FormatJSONL, piped, func(p *Printer) error { return p.Print([]task(nil), taskTable(nil)) }},
		{"empty_yaml", FormatYAML, piped, func(p *Printer) error { return p.Print([]task(nil), taskTable(nil)) }},

		{"object_table_tty", FormatTable, tty, func(p *Printer) error { return p.PrintObject(one, taskFields(one)) }},
		{"object_table_tty_color", FormatTable, setup{tty: true, color: true}, func(p *Printer) error { return p.PrintObject(one, taskFields(one)) }},
		{"object_table_tty_unset", FormatTable, tty, func(p *Printer) error { return p.PrintObject(list[1], taskFields(list[1])) }},
		{"object_table_piped", FormatTable, piped, func(p *Printer) error { return p.PrintObject(one, taskFields(one)) }},
		{"object_table_piped_unset", FormatTable, piped, func(p *Printer) error { return p.PrintObject(list[1], taskFields(list[1])) }},
		{"object_csv", FormatCSV, tty, func(p *Printer) error { return p.PrintObject(one, taskFields(one)) }},
		{"object_json", FormatJSON, tty, func(p *Printer) error { return p.PrintObject(one, taskFields(one)) }},
		{"object_jsonl", FormatJSONL, piped, func(p *Printer) error { return p.PrintObject(one, taskFields(one)) }},
		{"object_yaml", FormatYAML, piped, func(p *Printer) error { return p.PrintObject(one, taskFields(one)) }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			golden(t, c.name, run(t, c.f, c.s, c.fn))
		})
	}
}

func mustFilter(t *testing.T, quiet bool, jq, tpl string) Filter {
	t.Helper()
	f, err := ParseFilter(quiet, jq, tpl)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// TestFilterGolden: --quiet, --jq and --template replace the format, on a
// terminal or not, for lists and objects.
func TestFilterGolden(t *testing.T) {
	list := tasks()
	tpl := `{{range .}}{{tablerow .id (autocolor .status) (timeago .created_at) (truncate 6 .queue)}}{{end}}`
	cases := []struct {
		name   string
		s      setup
		object bool
	}{
		{"quiet_list", setup{tty: true, filter: mustFilter(t, true, "", "")}, false},
		{"quiet_object", setup{filter: mustFilter(t, true, "", "")}, true},
		{"jq_list", setup{filter: mustFilter(t, false, `.[] | select(.priority >= 0) | .id, .labels`, "")}, false},
		{"jq_object", setup{tty: true, filter: mustFilter(t, true, `.cost_micros`, "")}, true},
		{"template_list", setup{tty: true, filter: mustFilter(t, false, "", tpl)}, false},
		{"template_list_color", setup{tty: true, color: true, filter: mustFilter(t, false, "", tpl)}, false},
		{"template_object", setup{filter: mustFilter(t, false, "", `{{.id}} {{color "green" .status}} {{timefmt "2006-01-02" .created_at}} {{json .input}}`+"\n")}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			golden(t, "filter_"+c.name, run(t, FormatTable, c.s, func(p *Printer) error {
				if c.object {
					return p.PrintObject(list[0], taskFields(list[0]))
				}
				return p.Print(list, taskTable(list))
			}))
		})
	}
}

func TestParseFilterErrors(t *testing.T) {
	for _, c := range []struct{ jq, tpl string }{{".[", ""}, {"", "{{.id"}, {".id", "{{.id}}"}, {"$undefined", ""}} {
		if _, err := ParseFilter(false, c.jq, c.tpl); err == nil {
			t.Errorf("ParseFilter(%q, %q) = nil error", c.jq, c.tpl)
		}
	}
	f, err := ParseFilter(true, ".id", "")
	if err != nil || f.Quiet {
		t.Errorf("--quiet with --jq: quiet = %v, err = %v; want --jq to decide", f.Quiet, err)
	}
	// A runtime error of the expression is an error, and nothing is written.
	ios, _, out, _ := iostreams.Test()
	p := New(ios, FormatTable, WithFilter(mustFilter(t, false, ".[] | .id + 1", "")))
	if err := p.Print(tasks(), taskTable(tasks())); err == nil || out.Len() != 0 {
		t.Errorf("jq runtime error: err = %v, out = %q", err, out.String())
	}
}

// JSON, JSON lines and YAML must not depend on the terminal.
func TestEncodedFormatsIgnoreTTY(t *testing.T) {
	list := tasks()
	for _, f := range []Format{FormatJSON, FormatJSONL, FormatYAML} {
		print := func(p *Printer) error { return p.Print(list, taskTable(list)) }
		a := run(t, f, setup{}, print)
		b := run(t, f, setup{tty: true, color: true}, print)
		if !bytes.Equal(a, b) {
			t.Errorf("%s: TTY output differs from piped output", f)
		}
	}
}

func TestJSONIsOneDocument(t *testing.T) {
	list := tasks()
	out := run(t, FormatJSON, setup{tty: true}, func(p *Printer) error { return p.Print(list, nil) })
	var got []task
	dec := json.NewDecoder(bytes.NewReader(out))
	if err := dec.Decode(&got); err != nil || len(got) != len(list) {
		t.Fatalf("decode: %v (%d tasks)", err, len(got))
	}
	if dec.More() {
		t.Fatal("more than one JSON document")
	}
	if got[0].CostMicros != list[0].CostMicros {
		t.Fatalf("cost_micros = %d, want %d", got[0].CostMicros, list[0].CostMicros)
	}
}

func TestJSONLinesOfObjectIsOneLine(t *testing.T) {
	one := tasks()[0]
	out := run(t, FormatJSONL, setup{}, func(p *Printer) error { return p.PrintObject(one, nil) })
	if n := bytes.Count(out, []byte("\n")); n != 1 {
		t.Fatalf("%d lines, want 1: %s", n, out)
	}
}
