package config

import (
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

// TestSecretsComeOnlyFromTheEnvironment: the server secret and the
// bootstrap operator key have no flag (a flag is visible in ps) and no
// config file key (a file is copied around); both are refused by name.
func TestSecretsComeOnlyFromTheEnvironment(t *testing.T) {
	for _, key := range []string{"secret", "admin_key"} {
		path := writeFile(t, t.TempDir(), "server.yaml", key+": s3cr3t-value-0123456789abcdef0123\n", 0o600)
		_, err := LoadServer(nil, env(map[string]string{"BATON_CONFIG": path}))
		if err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("config file key %s: error %v, want it refused by name", key, err)
		}
	}
	fs := pflag.NewFlagSet("server", pflag.ContinueOnError)
	ServerFlags(fs)
	for _, flag := range []string{"secret", "admin-key", "api-key"} {
		if fs.Lookup(flag) != nil {
			t.Errorf("the server has a --%s flag; secrets come from the environment only", flag)
		}
		if err := fs.Parse([]string{"--" + flag + "=x"}); err == nil {
			t.Errorf("--%s parsed", flag)
		}
	}
}

// TestServerLogValueHidesSecrets: the server's settings as logged at start
// name every secret as (set), never its value, and keep a database URL's
// password out too.
func TestServerLogValueHidesSecrets(t *testing.T) {
	s := Server{Listen: "127.0.0.1:7070", DatabaseURL: "postgres://baton:pg-pass-123@db/baton",
		RedisURL: "redis://:redis-pass-456@cache:6379/0", Secret: "secret-789-0123456789abcdef0123456789",
		AdminKey: "bak_admin-key-000", MetricsToken: "metrics-token-111"}
	var b strings.Builder
	slog.New(slog.NewTextHandler(&b, nil)).Info("config", "server", s)
	out := b.String() + fmt.Sprint(s.LogValue())
	for _, secret := range []string{"pg-pass-123", "redis-pass-456", "secret-789", "bak_admin-key-000", "metrics-token-111"} {
		if strings.Contains(out, secret) {
			t.Errorf("the logged config holds %q: %s", secret, out)
		}
	}
	for _, want := range []string{"secret=(set)", "admin_key=(set)", "database_url=(set)", "listen=127.0.0.1:7070"} {
		if !strings.Contains(out, want) {
			t.Errorf("the logged config lacks %q: %s", want, out)
		}
	}
}
