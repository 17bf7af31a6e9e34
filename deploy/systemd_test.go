package deploy

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/genericcorp/baton/pkg/config"
)

// readUnit returns a systemd unit's settings by section, each key with all
// its values in order.
func readUnit(t *testing.T, path string) map[string]map[string][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	unit := map[string]map[string][]string{}
	section := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			section = strings.Trim(line, "[]")
			unit[section] = map[string][]string{}
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok || section == "" {
				t.Fatalf("%s: cannot read %q", path, line)
			}
			unit[section][k] = append(unit[section][k], v)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return unit
}

// systemdSeconds parses a systemd time span such as 45s, 45, 1min or 1min 30s.
func systemdSeconds(t *testing.T, s string) time.Duration {
	t.Helper()
	var total time.Duration
	for _, f := range strings.Fields(s) {
		num := strings.TrimRight(f, "abcdefghijklmnopqrstuvwxyz")
		unit := strings.TrimPrefix(f, num)
		mult := map[string]time.Duration{"": time.Second, "s": time.Second, "sec": time.Second, "m": time.Minute, "min": time.Minute, "h": time.Hour}[unit]
		d, err := time.ParseDuration(num + "s")
		if err != nil || mult == 0 {
			t.Fatalf("cannot read time span %q", s)
		}
		total += d / time.Second * mult
	}
	return total
}

// TestSystemdUnit: the hardening lines, the environment file, the state
// directory, restarts, and a stop timeout longer than the server's drain.
func TestSystemdUnit(t *testing.T) {
	unit := readUnit(t, "baton.service")
	svc := unit["Service"]
	if svc == nil {
		t.Fatal("baton.service has no [Service] section")
	}
	want := map[string]string{
		"NoNewPrivileges":         "yes",
		"ProtectSystem":           "strict",
		"ProtectHome":             "yes",
		"PrivateTmp":              "yes",
		"PrivateDevices":          "yes",
		"ProtectKernelTunables":   "yes",
		"ProtectKernelModules":    "yes",
		"ProtectControlGroups":    "yes",
		"RestrictSUIDSGID":        "yes",
		"LockPersonality":         "yes",
		"CapabilityBoundingSet":   "",
		"StateDirectory":          "baton",
		"EnvironmentFile":         "-/etc/baton/baton.env",
		"Restart":                 "on-failure",
		"ExecStart":               "/usr/bin/baton server",
		"SystemCallArchitectures": "native",
	}
	for k, v := range want {
		got, ok := svc[k]
		if !ok || got[len(got)-1] != v {
			t.Errorf("baton.service: %s=%v, want %s=%s", k, got, k, v)
		}
	}
	if svc["DynamicUser"] == nil && (svc["User"] == nil || svc["User"][0] == "root") {
		t.Error("baton.service: neither DynamicUser= nor a non-root User=")
	}
	if !contains(svc["Environment"], "BATON_DATA_DIR=/var/lib/baton") {
		t.Errorf("baton.service: Environment=%v lacks BATON_DATA_DIR=/var/lib/baton (the StateDirectory)", svc["Environment"])
	}
	stop := svc["TimeoutStopSec"]
	if len(stop) == 0 {
		t.Fatal("baton.service: no TimeoutStopSec")
	}
	if d := systemdSeconds(t, stop[0]); d <= config.DefaultShutdownTimeout {
		t.Errorf("TimeoutStopSec=%s (%v) must exceed the shutdown timeout %v", stop[0], d, config.DefaultShutdownTimeout)
	}
	if unit["Install"]["WantedBy"] == nil {
		t.Error("baton.service: no [Install] WantedBy")
	}
}

func contains(vals []string, want string) bool {
	for _, v := range vals {
		for _, f := range strings.Fields(v) {
			if f == want {
				return true
			}
		}
	}
	return false
}

// TestSystemdVerify runs `systemd-analyze verify` on the unit where it is
// installed, with ExecStart pointed at an executable that exists here.
func TestSystemdVerify(t *testing.T) {
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		t.Skip("no systemd-analyze")
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile("baton.service")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "baton.service")
	text := strings.ReplaceAll(string(b), "ExecStart=/usr/bin/baton", "ExecStart="+self)
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("systemd-analyze", "verify", path).CombinedOutput()
	if err != nil {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
	if s := strings.TrimSpace(string(out)); s != "" {
		t.Errorf("systemd-analyze verify warns:\n%s", s)
	}
}
