// Package deploy holds baton's deployment files: the Dockerfiles, the
// compose file and its .env.example, the systemd unit and its environment
// file, and the packages' install scripts. These tests check them
// statically (no Docker engine or systemd needed), and run `docker compose
// config` and `systemd-analyze verify` where those tools exist.
package deploy

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/spf13/pflag"
	"gopkg.in/yaml.v3"

	"github.com/genericcorp/baton/pkg/config"
)

// envOnly are the server's variables that have no flag (CONTRACT.md:
// secrets stay out of ps and shell history).
var envOnly = []string{"BATON_SECRET", "BATON_ADMIN_KEY"}

// contractVars are the server variables of CONTRACT.md and the README.
var contractVars = []string{
	"BATON_LISTEN", "BATON_DATABASE_URL", "BATON_DB_MAX_CONNS", "BATON_REDIS_URL", "BATON_DATA_DIR",
	"BATON_SECRET", "BATON_ADMIN_KEY", "BATON_CONFIG", "BATON_ALERT_WEBHOOK_URL", "SENTRY_DSN", "BATON_LOG_FORMAT",
}

// serverVars returns every environment variable the server reads: those
// its flags name ("(env X)" in their usage), those named in
// pkg/config/server.go (where the table of settings lives, flag or not),
// the env-only ones and the contract's list, sorted. A variable added to
// the server's configuration shows up here, so the files below must
// document it.
func serverVars(t *testing.T) []string {
	t.Helper()
	src, err := os.ReadFile(filepath.Join("..", "pkg", "config", "server.go"))
	if err != nil {
		t.Fatal(err)
	}
	fs := pflag.NewFlagSet("server", pflag.ContinueOnError)
	config.ServerFlags(fs)
	seen := map[string]bool{}
	re := regexp.MustCompile(`\(env ([A-Z][A-Z0-9_]*)\)`)
	fs.VisitAll(func(f *pflag.Flag) {
		for _, m := range re.FindAllStringSubmatch(f.Usage, -1) {
			seen[m[1]] = true
		}
	})
	for _, m := range regexp.MustCompile(`"((?:BATON_|SENTRY_)[A-Z0-9_]+)"`).FindAllStringSubmatch(string(src), -1) {
		seen[m[1]] = true
	}
	for _, v := range append(slices.Clone(envOnly), contractVars...) {
		seen[v] = true
	}
	out := make([]string, 0, len(seen))
	for v := range seen {
		out = append(out, v)
	}
	sort.Strings(out)
	return out
}

// envVar is one variable of an env file: set or commented out, with the
// comment block above it.
type envVar struct {
	name, value, comment string
	commented            bool
}

// readEnvFile parses a dotenv file: NAME=value and #NAME=value lines, each
// with the comment lines directly above it.
func readEnvFile(t *testing.T, path string) []envVar {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	assign := regexp.MustCompile(`^(#?)\s*([A-Z][A-Z0-9_]*)=(.*)$`)
	var vars []envVar
	var comment []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if m := assign.FindStringSubmatch(line); m != nil {
			vars = append(vars, envVar{name: m[2], value: m[3], comment: strings.Join(comment, " "), commented: m[1] == "#"})
			continue
		}
		if strings.HasPrefix(line, "#") {
			comment = append(comment, strings.TrimSpace(strings.TrimPrefix(line, "#")))
			continue
		}
		comment = nil // a blank line ends a block
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return vars
}

func names(vars []envVar) map[string]envVar {
	m := map[string]envVar{}
	for _, v := range vars {
		m[v.name] = v
	}
	return m
}

// composeFile is the part of compose.yaml the tests look at.
type composeFile struct {
	Name     string                    `yaml:"name"`
	Services map[string]composeService `yaml:"services"`
	Volumes  map[string]any            `yaml:"volumes"`
}

type composeService struct {
	Image       string            `yaml:"image"`
	Build       map[string]string `yaml:"build"`
	Command     []string          `yaml:"command"`
	Restart     string            `yaml:"restart"`
	Environment map[string]string `yaml:"environment"`
	Ports       []string          `yaml:"ports"`
	Volumes     []string          `yaml:"volumes"`
	DependsOn   map[string]struct {
		Condition string `yaml:"condition"`
	} `yaml:"depends_on"`
	Healthcheck *struct {
		Test    []string `yaml:"test"`
		Disable bool     `yaml:"disable"`
	} `yaml:"healthcheck"`
}

func readCompose(t *testing.T) (composeFile, string) {
	t.Helper()
	b, err := os.ReadFile("compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var c composeFile
	if err := yaml.Unmarshal(b, &c); err != nil {
		t.Fatalf("compose.yaml: %v", err)
	}
	return c, string(b)
}

// interpolated returns the variables compose.yaml substitutes (${X…} or
// $X; $$X is a literal dollar for the container's shell).
func interpolated(text string) map[string]bool {
	out := map[string]bool{}
	re := regexp.MustCompile(`(\$*)\$\{?([A-Za-z_][A-Za-z0-9_]*)`)
	for _, m := range re.FindAllStringSubmatch(text, -1) {
		if len(m[1])%2 == 0 { // an odd number of $ before it escapes it
			out[m[2]] = true
		}
	}
	return out
}

// TestEnvExampleMatchesCompose: every variable of .env.example is used by
// compose.yaml or says why not, every variable compose.yaml substitutes is
// in .env.example, and every server variable is documented.
func TestEnvExampleMatchesCompose(t *testing.T) {
	vars := readEnvFile(t, ".env.example")
	_, text := readCompose(t)
	used := interpolated(text)
	byName := names(vars)
	for _, v := range vars {
		notUsed := strings.Contains(v.comment, "Not used by compose") || strings.Contains(v.comment, "not used by compose")
		switch {
		case strings.TrimSpace(v.comment) == "":
			t.Errorf(".env.example: %s has no comment", v.name)
		case used[v.name] && notUsed:
			t.Errorf(".env.example: %s says it is not used by compose, but compose.yaml uses it", v.name)
		case !used[v.name] && !notUsed:
			t.Errorf(".env.example: compose.yaml never uses %s; use it or say \"not used by compose\" and why", v.name)
		}
	}
	for name := range used {
		if _, ok := byName[name]; !ok {
			t.Errorf("compose.yaml uses ${%s}, which .env.example does not document", name)
		}
	}
	for _, name := range serverVars(t) {
		if _, ok := byName[name]; !ok {
			t.Errorf(".env.example does not document the server variable %s", name)
		}
	}
	// No secret ships with a value.
	for _, name := range []string{"BATON_SECRET", "POSTGRES_PASSWORD", "BATON_ADMIN_KEY"} {
		if v := byName[name]; v.value != "" && !v.commented {
			t.Errorf(".env.example: %s must be empty, not %q", name, v.value)
		}
	}
}

// TestComposeServices: every long-running service has a healthcheck and a
// named volume, baton waits for healthy dependencies and a finished
// migration, and its port is 7070.
func TestComposeServices(t *testing.T) {
	c, _ := readCompose(t)
	if c.Name == "" {
		t.Error("compose.yaml: no project name (it would default to the directory, deploy)")
	}
	for _, name := range []string{"baton", "migrate", "postgres", "redis"} {
		if _, ok := c.Services[name]; !ok {
			t.Fatalf("compose.yaml: no %s service", name)
		}
	}
	for name, s := range c.Services {
		oneShot := s.Restart == "no"
		switch {
		case s.Healthcheck == nil:
			t.Errorf("service %s has no healthcheck", name)
		case s.Healthcheck.Disable && !oneShot:
			t.Errorf("service %s disables its healthcheck but is not a one-shot (restart: \"no\")", name)
		case !s.Healthcheck.Disable && len(s.Healthcheck.Test) < 2:
			t.Errorf("service %s: healthcheck test %v", name, s.Healthcheck.Test)
		}
		for _, vol := range s.Volumes {
			src, _, _ := strings.Cut(vol, ":")
			if !strings.HasPrefix(src, ".") && !strings.HasPrefix(src, "/") {
				if _, ok := c.Volumes[src]; !ok {
					t.Errorf("service %s mounts volume %s, which is not declared", name, src)
				}
			}
		}
		if !oneShot && name != "baton" && len(s.Volumes) == 0 {
			t.Errorf("service %s keeps its data in no volume", name)
		}
	}
	if c.Services["postgres"].Image != "postgres:16" || c.Services["redis"].Image != "redis:7" {
		t.Errorf("images: postgres %q, redis %q", c.Services["postgres"].Image, c.Services["redis"].Image)
	}
	baton := c.Services["baton"]
	want := map[string]string{"postgres": "service_healthy", "redis": "service_healthy", "migrate": "service_completed_successfully"}
	for dep, cond := range want {
		if got := baton.DependsOn[dep].Condition; got != cond {
			t.Errorf("baton depends_on %s: condition %q, want %q", dep, got, cond)
		}
	}
	if !slices.ContainsFunc(baton.Volumes, func(v string) bool { return strings.HasSuffix(v, ":/data") }) {
		t.Errorf("baton mounts nothing at /data: %v", baton.Volumes)
	}
	if len(baton.Ports) != 1 || !strings.HasSuffix(baton.Ports[0], ":7070") || !strings.HasPrefix(baton.Ports[0], "${BATON_PUBLISH:-127.0.0.1:") {
		t.Errorf("baton ports = %v, want one mapping to 7070, on loopback unless BATON_PUBLISH says otherwise", baton.Ports)
	}
	for _, name := range []string{"postgres", "redis"} {
		if p := c.Services[name].Ports; len(p) != 0 {
			t.Errorf("%s publishes %v; keep it on the compose network", name, p)
		}
	}
	if got := c.Services["migrate"].Command; !slices.Equal(got, []string{"server", "migrate", "--grant", "baton_app"}) {
		t.Errorf("migrate command = %v", got)
	}
	// The server runs as a role that row-level security binds; only the
	// migrate service is the tables' owner (issue 13).
	if u := baton.Environment["BATON_DATABASE_URL"]; !strings.HasPrefix(u, "postgres://baton_app:") {
		t.Errorf("baton connects as %q; want baton_app, not the superuser", u)
	}
	if u := c.Services["migrate"].Environment["BATON_DATABASE_URL"]; !strings.HasPrefix(u, "postgres://${POSTGRES_USER") {
		t.Errorf("migrate connects as %q; want the owner, POSTGRES_USER", u)
	}
	if got := baton.Healthcheck.Test; !slices.Equal(got, []string{"CMD", "/usr/local/bin/baton", "server", "health"}) {
		t.Errorf("baton healthcheck = %v", got)
	}
	for _, s := range []composeService{baton, c.Services["migrate"]} {
		if s.Build["dockerfile"] != "deploy/Dockerfile" || s.Build["context"] != ".." {
			t.Errorf("build = %v, want context .. and deploy/Dockerfile", s.Build)
		}
		if s.Environment["BATON_SECRET"] == "" || !strings.HasPrefix(s.Environment["BATON_DATABASE_URL"], "postgres://") {
			t.Errorf("baton/migrate environment lacks BATON_SECRET or a postgres BATON_DATABASE_URL: %v", s.Environment)
		}
	}
}

// TestComposeConfig runs `docker compose config -q` with .env.example (its
// required secrets filled in) when a Compose v2 client is installed.
func TestComposeConfig(t *testing.T) {
	compose := composeCommand()
	if compose == nil {
		t.Skip("no docker compose v2 client")
	}
	b, err := os.ReadFile(".env.example")
	if err != nil {
		t.Fatal(err)
	}
	env := regexp.MustCompile(`(?m)^(BATON_SECRET|POSTGRES_PASSWORD)=$`).ReplaceAllString(string(b), "${1}0123456789abcdef0123456789abcdef")
	envFile := filepath.Join(t.TempDir(), ".env")
	if err := os.WriteFile(envFile, []byte(env), 0o600); err != nil {
		t.Fatal(err)
	}
	args := append(compose[1:], "-f", "compose.yaml", "--env-file", envFile, "config", "-q")
	cmd := exec.Command(compose[0], args...)
	cmd.Env = cleanEnv()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(cmd.Args, " "), err, out)
	}
}

// composeCommand returns `docker compose` or a v2 `docker-compose`, or nil.
// (Compose v1 does not know the top-level name, so it is not used.)
func composeCommand() []string {
	if exec.Command("docker", "compose", "version").Run() == nil {
		return []string{"docker", "compose"}
	}
	out, err := exec.Command("docker-compose", "version", "--short").Output()
	if err == nil && strings.HasPrefix(strings.TrimPrefix(strings.TrimSpace(string(out)), "v"), "2.") {
		return []string{"docker-compose"}
	}
	return nil
}

// cleanEnv is the process environment without variables that would change
// what compose substitutes.
func cleanEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "BATON_") && !strings.HasPrefix(kv, "POSTGRES_") && !strings.HasPrefix(kv, "COMPOSE_") && !strings.HasPrefix(kv, "SENTRY_") {
			out = append(out, kv)
		}
	}
	return out
}

// TestServerEnvFile: the systemd environment file names every server
// variable and sets none (it ships as a package config file).
func TestServerEnvFile(t *testing.T) {
	vars := names(readEnvFile(t, "baton.env"))
	for _, name := range serverVars(t) {
		v, ok := vars[name]
		if !ok {
			t.Errorf("baton.env does not mention %s", name)
		} else if !v.commented {
			t.Errorf("baton.env sets %s; ship every line commented out", name)
		}
	}
}

// TestConfigExampleLoads: the example config file is valid for the server.
func TestConfigExampleLoads(t *testing.T) {
	env := map[string]string{config.EnvConfig: "config.example.yaml", "HOME": t.TempDir()}
	s, err := config.LoadServer(nil, func(k string) string { return env[k] })
	if err != nil {
		t.Fatalf("config.example.yaml: %v", err)
	}
	if _, ok := s.Tiers["enterprise"]; !ok {
		t.Errorf("tiers = %v, want the example's enterprise tier", s.Tiers)
	}
	if s.ShutdownTimeout != config.DefaultShutdownTimeout {
		t.Errorf("shutdown_timeout = %v: the unit's and compose's stop timeouts assume %v", s.ShutdownTimeout, config.DefaultShutdownTimeout)
	}
}
