package deploy

import (
	"bufio"
	"os"
	"slices"
	"strings"
	"testing"
)

// instruction is one Dockerfile instruction, continuation lines joined.
type instruction struct {
	cmd, args string
	line      int
}

// stage is one FROM … block of a Dockerfile.
type stage struct {
	from string
	ins  []instruction
}

func readDockerfile(t *testing.T, path string) []stage {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var stages []stage
	var cur strings.Builder
	start, n := 0, 0
	flush := func() {
		text := strings.TrimSpace(cur.String())
		cur.Reset()
		if text == "" {
			return
		}
		cmd, args, _ := strings.Cut(text, " ")
		in := instruction{cmd: strings.ToUpper(cmd), args: strings.Join(strings.Fields(args), " "), line: start}
		if in.cmd == "FROM" {
			stages = append(stages, stage{from: in.args})
			return
		}
		if len(stages) == 0 {
			if in.cmd != "ARG" {
				t.Errorf("%s:%d: %s before the first FROM", path, in.line, in.cmd)
			}
			return
		}
		s := &stages[len(stages)-1]
		s.ins = append(s.ins, in)
	}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "#") || (line == "" && cur.Len() == 0) {
			continue
		}
		if cur.Len() == 0 {
			start = n
		}
		if body, ok := strings.CutSuffix(line, "\\"); ok {
			cur.WriteString(body + " ")
			continue
		}
		cur.WriteString(line)
		flush()
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	flush()
	return stages
}

// find returns the stage's instructions named cmd.
func (s stage) find(cmd string) []instruction {
	var out []instruction
	for _, in := range s.ins {
		if in.cmd == cmd {
			out = append(out, in)
		}
	}
	return out
}

// has reports whether some instruction cmd has args containing every part.
func (s stage) has(cmd string, parts ...string) bool {
	return slices.ContainsFunc(s.find(cmd), func(in instruction) bool {
		for _, p := range parts {
			if !strings.Contains(in.args, p) {
				return false
			}
		}
		return true
	})
}

// checkRuntimeStage checks what both images promise: distroless nonroot,
// the data volume, the listen address, the port, the health probe and the
// entrypoint.
func checkRuntimeStage(t *testing.T, path string, s stage) {
	t.Helper()
	if s.from != "gcr.io/distroless/static-debian12:nonroot" {
		t.Errorf("%s: final stage FROM %s, want gcr.io/distroless/static-debian12:nonroot", path, s.from)
	}
	checks := []struct {
		cmd   string
		parts []string
	}{
		{"USER", []string{"nonroot"}},
		{"ENV", []string{"BATON_DATA_DIR=/data", "BATON_LISTEN=0.0.0.0:7070"}},
		{"VOLUME", []string{`"/data"`}},
		{"EXPOSE", []string{"7070"}},
		{"HEALTHCHECK", []string{`CMD ["/usr/local/bin/baton", "server", "health"]`}},
		{"ENTRYPOINT", []string{`["/usr/local/bin/baton"]`}},
		{"CMD", []string{`["server"]`}},
		{"COPY", []string{"--chown=65532:65532", "/data"}},
	}
	for _, c := range checks {
		if !s.has(c.cmd, c.parts...) {
			t.Errorf("%s: final stage lacks %s %s", path, c.cmd, strings.Join(c.parts, " "))
		}
	}
	users := s.find("USER")
	if len(users) == 0 || strings.HasPrefix(users[len(users)-1].args, "root") || strings.HasPrefix(users[len(users)-1].args, "0") {
		t.Errorf("%s: the image must end as a non-root user", path)
	}
	if s.has("RUN") {
		t.Errorf("%s: the final stage runs commands, but distroless has no shell", path)
	}
}

// TestDockerfile: multi-stage, a static trimmed build with version ldflags,
// and the runtime promises.
func TestDockerfile(t *testing.T) {
	stages := readDockerfile(t, "Dockerfile")
	if len(stages) < 2 {
		t.Fatalf("Dockerfile has %d stages, want a builder and a runtime stage", len(stages))
	}
	build := stages[0]
	if !strings.Contains(build.from, "golang:${GO_VERSION}") || !strings.HasSuffix(build.from, " AS build") {
		t.Errorf("builder stage FROM %s, want golang:${GO_VERSION} AS build", build.from)
	}
	if !build.has("RUN", "CGO_ENABLED=0", "go build", "-trimpath", "-s -w", "./cmd/baton",
		"-X github.com/genericcorp/baton/internal/version.Version=${VERSION}",
		"-X github.com/genericcorp/baton/internal/version.Commit=${COMMIT}",
		"-X github.com/genericcorp/baton/internal/version.Date=${DATE}") {
		t.Error("Dockerfile: no RUN with CGO_ENABLED=0 go build -trimpath and the version ldflags")
	}
	for _, arg := range []string{"VERSION", "COMMIT", "DATE"} {
		if !build.has("ARG", arg) {
			t.Errorf("Dockerfile: builder has no ARG %s", arg)
		}
	}
	if got := stages[0].ins; len(got) == 0 {
		t.Error("Dockerfile: empty builder stage")
	}
	runtime := stages[len(stages)-1]
	checkRuntimeStage(t, "Dockerfile", runtime)
	if !runtime.has("COPY", "--from=build", "/usr/local/bin/baton") {
		t.Error("Dockerfile: the runtime stage does not copy the binary from the builder")
	}
}

// TestDockerfileRelease: goreleaser's image copies the prebuilt binary of
// each platform and keeps the same runtime promises.
func TestDockerfileRelease(t *testing.T) {
	stages := readDockerfile(t, "Dockerfile.release")
	if len(stages) != 1 {
		t.Fatalf("Dockerfile.release has %d stages, want 1", len(stages))
	}
	checkRuntimeStage(t, "Dockerfile.release", stages[0])
	if !stages[0].has("COPY", "${TARGETPLATFORM}/baton", "/usr/local/bin/baton") {
		t.Error("Dockerfile.release does not copy ${TARGETPLATFORM}/baton (the dockers_v2 context layout)")
	}
}

// TestDockerignore: the build context never carries the compose secrets,
// the git history or release output.
func TestDockerignore(t *testing.T) {
	b, err := os.ReadFile("Dockerfile.dockerignore")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(b), "\n")
	for _, want := range []string{".git", "dist", "deploy/.env"} {
		if !slices.Contains(lines, want) {
			t.Errorf("Dockerfile.dockerignore lacks %s", want)
		}
	}
}
