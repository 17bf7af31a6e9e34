package config

import (
	"net"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"testing"

	"github.com/genericcorp/baton/pkg/api"
)

// serverConfigError is how every LoadServer error starts: the file's
// read or parse, or the key of the bad value.
var serverConfigError = regexp.MustCompile(`^(read server config|parse server config|load server config|tiers\.|[a-z_]+(\.[a-z_]+)?: )`)

// FuzzLoadServer: any config file either loads into a configuration the
// server can run with (positive durations, a heartbeat at most half the
// lease, a listen address, non-negative money and limits, an existing
// default tier) or is refused with an error naming the file or the key;
// loading the same file twice gives the same answer.
func FuzzLoadServer(f *testing.F) {
	f.Add([]byte(sampleServerConfig))
	for _, s := range []string{"", "listen: [", "lease: 1s\nheartbeat_interval: 1s", "lease: -1s", "heartbeat_interval: 9223372036854775807ns",
		"db_max_conns: 2147483648", "default_tier: nope", "tiers:\n  Pro!: {}", "tiers:\n  x:\n    burst: -1", "tiers:\n  x:\n    price_usd: 1e3",
		"tiers:\n  x:\n    max_task_duration_seconds: 9223372036854775807", "cost:\n  api_call_usd: 0.0000001", "trusted_proxies: 10.0.0.0/8, ::1, x",
		"unknown_key: 1", "listen: ':0'\n---\nlisten: x", "tiers: {free: {requests_per_minute: 1_000}}", "&a [*a]", "listen: !!binary aGk="} {
		f.Add([]byte(s))
	}
	path := filepath.Join(f.TempDir(), "server.yaml")
	getenv := func(k string) string {
		if k == EnvConfig {
			return path
		}
		return ""
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		s, err := LoadServer(nil, getenv)
		again, err2 := LoadServer(nil, getenv)
		if (err == nil) != (err2 == nil) || err != nil && err.Error() != err2.Error() || !reflect.DeepEqual(s, again) {
			t.Fatalf("two loads of %q differ: %v / %v", data, err, err2)
		}
		if err != nil {
			if !serverConfigError.MatchString(err.Error()) {
				t.Fatalf("LoadServer(%q): the error names no key or file: %v", data, err)
			}
			return
		}
		if s.Lease <= 0 || s.HeartbeatInterval <= 0 || s.ShutdownTimeout <= 0 || 2*s.HeartbeatInterval > s.Lease || s.DBMaxConns < 0 {
			t.Fatalf("LoadServer(%q) = lease %v, heartbeat %v, shutdown %v, conns %d", data, s.Lease, s.HeartbeatInterval, s.ShutdownTimeout, s.DBMaxConns)
		}
		if _, _, err := net.SplitHostPort(s.Listen); err != nil {
			t.Fatalf("LoadServer(%q): listen %q: %v", data, s.Listen, err)
		}
		if s.Cost.APICallMicros < 0 || s.Cost.ExecutionSecondMicros < 0 {
			t.Fatalf("LoadServer(%q): cost %+v", data, s.Cost)
		}
		if _, ok := s.Tiers[s.DefaultTier]; !ok {
			t.Fatalf("LoadServer(%q): default tier %q is not a tier", data, s.DefaultTier)
		}
		for name, tier := range s.Tiers {
			if !tierName.MatchString(name) || tier.Name != name || tier.PriceMonthlyMicro < 0 {
				t.Fatalf("LoadServer(%q): tier %q = %+v", data, name, tier)
			}
			for _, k := range api.LimitKeys() {
				if v, _ := tier.Limits.Get(k); v < 0 {
					t.Fatalf("LoadServer(%q): tier %s %s = %d", data, name, k, v)
				}
			}
		}
		for _, p := range s.TrustedProxies {
			if !p.IsValid() || p != p.Masked() {
				t.Fatalf("LoadServer(%q): trusted proxy %v", data, p)
			}
		}
	})
}

// FuzzLoadProfiles: any CLI config file either loads with valid profile
// names or is refused; what loads is saved and loaded back unchanged.
func FuzzLoadProfiles(f *testing.F) {
	for _, s := range []string{"", "current_profile: default\nprofiles:\n  default:\n    server: https://baton.example.com\n    api_key: bk_x\n    timeout: 30s\n",
		"profiles:\n  Bad Name: {}", "current_profile: ../x", "profiles: []", "profiles:\n  a:\n    server: \"\\x00\\xff\"\n    no_color: true",
		"profiles:\n  a:\n    jq: '.data[] | {id}'\n    template: '{{.id}}'", "profiles: {a: {quiet: yes}}", "profiles:\n  a: null", "- 1", "profiles:\n  a:\n    server: \"\\u0085x\\u2028\""} {
		f.Add([]byte(s))
	}
	dir := f.TempDir()
	in, out := filepath.Join(dir, "in.yaml"), filepath.Join(dir, "out.yaml")
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := os.WriteFile(in, data, 0o600); err != nil {
			t.Fatal(err)
		}
		file, err := Load(in)
		if err != nil {
			return
		}
		if file.CurrentProfile != "" && ValidateProfileName(file.CurrentProfile) != nil {
			t.Fatalf("Load(%q) kept current profile %q", data, file.CurrentProfile)
		}
		for name, p := range file.Profiles {
			if ValidateProfileName(name) != nil || p.Name != name {
				t.Fatalf("Load(%q) kept profile %q (named %q)", data, name, p.Name)
			}
		}
		if err := file.Save(out); err != nil {
			t.Fatalf("Save of what Load(%q) read: %v", data, err)
		}
		back, err := Load(out)
		if err != nil || !reflect.DeepEqual(file, back) {
			saved, _ := os.ReadFile(out)
			t.Fatalf("Load(Save(Load(%q))) = %+v, %v; want %+v (saved %q)", data, back, err, file, saved)
		}
	})
}
