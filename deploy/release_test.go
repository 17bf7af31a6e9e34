package deploy

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/genericcorp/baton/internal/cli"
	"github.com/genericcorp/baton/internal/cli/cmdutil"
	"github.com/genericcorp/baton/internal/iostreams"
)

// goreleaserFile is the part of goreleaser.yaml the tests look at. The real
// check is `goreleaser check` (scripts/release-snapshot.sh); this one runs
// in every `go test` and catches missing files and dropped requirements.
type goreleaserFile struct {
	Version int `yaml:"version"`
	Before  struct {
		Hooks []string `yaml:"hooks"`
	} `yaml:"before"`
	Builds []struct {
		ID      string   `yaml:"id"`
		Main    string   `yaml:"main"`
		Env     []string `yaml:"env"`
		Goos    []string `yaml:"goos"`
		Goarch  []string `yaml:"goarch"`
		Flags   []string `yaml:"flags"`
		Ldflags []string `yaml:"ldflags"`
	} `yaml:"builds"`
	Archives []struct {
		Files []string `yaml:"files"`
	} `yaml:"archives"`
	Checksum struct {
		NameTemplate string `yaml:"name_template"`
	} `yaml:"checksum"`
	NFPMs []struct {
		Formats  []string `yaml:"formats"`
		Bindir   string   `yaml:"bindir"`
		Contents []struct {
			Src  string `yaml:"src"`
			Dst  string `yaml:"dst"`
			Type string `yaml:"type"`
		} `yaml:"contents"`
		Scripts map[string]string `yaml:"scripts"`
	} `yaml:"nfpms"`
	DockersV2 []struct {
		Dockerfile string   `yaml:"dockerfile"`
		Platforms  []string `yaml:"platforms"`
	} `yaml:"dockers_v2"`
}

// TestGoreleaserConfig checks the release definition against issue 7 and
// that every file it packages exists.
func TestGoreleaserConfig(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "goreleaser.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var g goreleaserFile
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	if err := dec.Decode(&g); err != nil {
		t.Fatalf("goreleaser.yaml: %v", err)
	}
	if g.Version != 2 {
		t.Errorf("version = %d, want 2", g.Version)
	}
	if !slices.Contains(g.Before.Hooks, "go generate ./internal/gencompletions") {
		t.Errorf("before hooks %v do not generate the completions", g.Before.Hooks)
	}
	if len(g.Builds) != 1 {
		t.Fatalf("%d builds, want 1", len(g.Builds))
	}
	bd := g.Builds[0]
	ld := strings.Join(bd.Ldflags, " ")
	switch {
	case bd.Main != "./cmd/baton":
		t.Errorf("build main = %q", bd.Main)
	case !slices.Contains(bd.Env, "CGO_ENABLED=0"):
		t.Errorf("build env = %v, want CGO_ENABLED=0", bd.Env)
	case !slices.Contains(bd.Flags, "-trimpath"):
		t.Errorf("build flags = %v, want -trimpath", bd.Flags)
	}
	for _, v := range []string{"Version", "Commit", "Date"} {
		if !strings.Contains(ld, "-X github.com/genericcorp/baton/internal/version."+v+"=") {
			t.Errorf("ldflags do not set internal/version.%s", v)
		}
	}
	for _, want := range [][2][]string{{bd.Goos, {"linux", "darwin", "windows"}}, {bd.Goarch, {"amd64", "arm64"}}} {
		if got := slices.Sorted(slices.Values(want[0])); !slices.Equal(got, slices.Sorted(slices.Values(want[1]))) {
			t.Errorf("build targets %v, want %v", got, want[1])
		}
	}
	if len(g.Archives) == 0 {
		t.Fatal("no archives")
	}
	for _, want := range []string{"README.md", "LICENSE", "completions/*"} {
		if !slices.Contains(g.Archives[0].Files, want) {
			t.Errorf("archive files %v lack %s", g.Archives[0].Files, want)
		}
	}
	for _, pattern := range g.Archives[0].Files {
		mustMatch(t, pattern)
	}
	if g.Checksum.NameTemplate == "" {
		t.Error("no checksum file")
	}
	if len(g.NFPMs) != 1 || !slices.Equal(slices.Sorted(slices.Values(g.NFPMs[0].Formats)), []string{"deb", "rpm"}) {
		t.Fatalf("nfpms = %+v, want one with deb and rpm", g.NFPMs)
	}
	n := g.NFPMs[0]
	dst := map[string]string{}
	for _, c := range n.Contents {
		dst[c.Dst] = c.Type
		if c.Src != "" {
			mustMatch(t, c.Src)
		}
	}
	if _, ok := dst["/usr/lib/systemd/system/baton.service"]; !ok || n.Bindir != "/usr/bin" {
		t.Errorf("packages: the unit at /usr/lib/systemd/system/baton.service and the binary in /usr/bin (unit's ExecStart); bindir %q", n.Bindir)
	}
	if dst["/etc/baton/baton.env"] != "config|noreplace" {
		t.Errorf("/etc/baton/baton.env type %q, want config|noreplace", dst["/etc/baton/baton.env"])
	}
	for name, script := range n.Scripts {
		p := filepath.Join("..", script)
		fi, err := os.Stat(p)
		if err != nil || fi.Mode()&0o111 == 0 {
			t.Errorf("nfpm %s script %s: missing or not executable", name, script)
			continue
		}
		if out, err := exec.Command("sh", "-n", p).CombinedOutput(); err != nil {
			t.Errorf("sh -n %s: %v\n%s", script, err, out)
		}
	}
	if len(g.DockersV2) == 0 {
		t.Fatal("no dockers_v2 image")
	}
	for _, d := range g.DockersV2 {
		mustMatch(t, d.Dockerfile)
		if !slices.Contains(d.Platforms, "linux/amd64") || !slices.Contains(d.Platforms, "linux/arm64") {
			t.Errorf("image platforms %v", d.Platforms)
		}
	}
}

// mustMatch fails unless the repository-relative glob matches a file.
func mustMatch(t *testing.T, pattern string) {
	t.Helper()
	m, err := filepath.Glob(filepath.Join("..", pattern))
	if err != nil || len(m) == 0 {
		t.Errorf("goreleaser.yaml names %s, which matches no file", pattern)
	}
}

// TestScriptsParse runs bash -n on the repository's scripts.
func TestScriptsParse(t *testing.T) {
	scripts, _ := filepath.Glob(filepath.Join("..", "scripts", "*.sh"))
	if len(scripts) < 2 {
		t.Fatalf("scripts/ has %d scripts, want release-snapshot.sh and install-test.sh", len(scripts))
	}
	for _, s := range scripts {
		fi, err := os.Stat(s)
		if err != nil || fi.Mode()&0o111 == 0 {
			t.Errorf("%s is not executable", s)
		}
		if out, err := exec.Command("bash", "-n", s).CombinedOutput(); err != nil {
			t.Errorf("bash -n %s: %v\n%s", s, err, out)
		}
	}
}

// TestDeployCommandsExist: the commands that the images, compose and the
// unit run are real commands of the CLI.
func TestDeployCommandsExist(t *testing.T) {
	ios, _, _, _ := iostreams.Test()
	root := cli.NewCmdRoot(cmdutil.New(ios, func(string) string { return "" }))
	for _, path := range [][]string{{"server"}, {"server", "health"}, {"server", "migrate"}, {"server", "init"}, {"completion"}} {
		cmd, rest, err := root.Find(path)
		if err != nil || len(rest) != 0 || cmd.Name() != path[len(path)-1] {
			t.Errorf("baton %s: not a command", strings.Join(path, " "))
		}
	}
	srv, _, _ := root.Find([]string{"server", "health"})
	if srv.Flags().Lookup("url") == nil {
		t.Error("baton server health has no --url")
	}
}
