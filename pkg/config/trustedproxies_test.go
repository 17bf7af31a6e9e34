package config

import (
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

func TestTrustedProxies(t *testing.T) {
	file := writeFile(t, t.TempDir(), "server.yaml", "trusted_proxies: 10.0.0.0/8, 192.168.1.7\n", 0o600)
	prefixes := func(ps ...string) []netip.Prefix {
		var out []netip.Prefix
		for _, p := range ps {
			out = append(out, netip.MustParsePrefix(p))
		}
		return out
	}
	for _, tt := range []struct {
		name  string
		args  []string
		env   map[string]string
		want  []netip.Prefix
		error string
	}{
		{name: "default: none"},
		{name: "file", env: map[string]string{"BATON_CONFIG": file}, want: prefixes("10.0.0.0/8", "192.168.1.7/32")},
		{name: "env over file", env: map[string]string{"BATON_CONFIG": file, "BATON_TRUSTED_PROXIES": "fd00::1/8,2001:db8::1"},
			want: prefixes("fd00::/8", "2001:db8::1/128")},
		{name: "flag over env", args: []string{"--trusted-proxies", "172.16.0.0/12"}, env: map[string]string{"BATON_TRUSTED_PROXIES": "10.0.0.0/8"},
			want: prefixes("172.16.0.0/12")},
		{name: "bad", env: map[string]string{"BATON_TRUSTED_PROXIES": "10.0.0.0/8, proxy.local"}, error: `trusted_proxies: want CIDRs or addresses separated by commas, got "proxy.local" (from BATON_TRUSTED_PROXIES)`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s, err := LoadServer(flags(t, tt.args...), env(tt.env))
			if tt.error != "" {
				if err == nil || !strings.Contains(err.Error(), tt.error) {
					t.Fatalf("err = %v, want %q", err, tt.error)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(s.TrustedProxies, tt.want) {
				t.Fatalf("TrustedProxies = %v, want %v", s.TrustedProxies, tt.want)
			}
		})
	}
}
