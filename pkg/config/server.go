package config

import (
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/genericcorp/baton/pkg/api"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"
)

// Server defaults.
const (
	DefaultListen = "127.0.0.1:7070"
	// DefaultLogFormat "auto" logs human lines with colour on a terminal
	// and JSON otherwise; "json" and "text" (logfmt) force a format.
	DefaultLogFormat       = "auto"
	DefaultShutdownTimeout = 30 * time.Second
	// DefaultLease and DefaultHeartbeatInterval are the worker lease timings.
	DefaultLease             = 30 * time.Second
	DefaultHeartbeatInterval = 5 * time.Second
	// DefaultExecutionSecondUSD and DefaultAPICallUSD are the default cost model.
	DefaultExecutionSecondUSD = "0.00002"
	DefaultAPICallUSD         = "0.0001"
)

// Cost is the operator's cost model, in integer micro-dollars.
type Cost struct {
	ExecutionSecondMicros int64 // cost.execution_second_usd
	APICallMicros         int64 // cost.api_call_usd
}

// Server is the server's effective configuration.
type Server struct {
	Listen string
	// DatabaseURL is empty for SQLite in DataDir, else e.g. postgres://….
	DatabaseURL string
	RedisURL    string // empty: no Redis
	// DataDir is empty only when neither it nor XDG_DATA_HOME nor HOME is set.
	DataDir string
	// Secret and AdminKey come from the environment only; empty when unset.
	Secret, AdminKey string
	LogFormat        string // "auto", "json" or "text"
	AlertWebhookURL  string
	SentryDSN        string
	DBMaxConns       int32 // 0: the driver's default
	DefaultTier      string
	Tiers            map[string]api.Tier
	Cost             Cost
	ShutdownTimeout  time.Duration
	// Lease is how long a worker's claim or heartbeat holds a task
	// (BATON_LEASE, default 30s); HeartbeatInterval is how often workers are
	// told to heartbeat (BATON_HEARTBEAT_INTERVAL, default 5s).
	Lease             time.Duration
	HeartbeatInterval time.Duration
	// TrustedProxies are the reverse proxies whose X-Forwarded-For the
	// per-address rate limits believe; none by default.
	TrustedProxies []netip.Prefix
	// PprofListen is where net/http/pprof is served on its own listener
	// (BATON_PPROF_LISTEN, --pprof-listen); empty: off. A non-loopback
	// address is refused unless PprofAllowRemote (--pprof-allow-remote,
	// BATON_PPROF_ALLOW_REMOTE=true) is set.
	PprofListen      string
	PprofAllowRemote bool
	// MetricsListen, when set (BATON_METRICS_LISTEN, --metrics-listen),
	// serves /metrics on its own listener only, so the API's address does
	// not expose it. MetricsToken (BATON_METRICS_TOKEN, environment only,
	// like the secret), when set, is the bearer token /metrics requires.
	MetricsListen string
	MetricsToken  string
}

// LogValue logs s without its secrets.
func (s Server) LogValue() slog.Value {
	set := func(v string) string {
		if v == "" {
			return ""
		}
		return "(set)"
	}
	return slog.GroupValue(
		slog.String("listen", s.Listen), slog.String("database_url", set(s.DatabaseURL)),
		slog.String("redis_url", set(s.RedisURL)), slog.String("data_dir", s.DataDir),
		slog.String("secret", set(s.Secret)), slog.String("admin_key", set(s.AdminKey)),
		slog.String("log_format", s.LogFormat), slog.String("default_tier", s.DefaultTier),
		slog.Int("tiers", len(s.Tiers)), slog.Any("db_max_conns", s.DBMaxConns),
		slog.Duration("shutdown_timeout", s.ShutdownTimeout), slog.Any("trusted_proxies", s.TrustedProxies),
		slog.String("metrics_listen", s.MetricsListen), slog.String("metrics_token", set(s.MetricsToken)),
	)
}

// serverKey is one scalar setting: its config file key, environment
// variable and flag ("" when it has none).
type serverKey struct{ key, env, flag string }

var serverKeys = []serverKey{
	{"listen", "BATON_LISTEN", "listen"},
	{"database_url", "BATON_DATABASE_URL", "database-url"},
	{"redis_url", "BATON_REDIS_URL", "redis-url"},
	{"data_dir", "BATON_DATA_DIR", "data-dir"},
	{"secret", "BATON_SECRET", ""},
	{"admin_key", "BATON_ADMIN_KEY", ""},
	{"log_format", "BATON_LOG_FORMAT", "log-format"},
	{"alert_webhook_url", "BATON_ALERT_WEBHOOK_URL", "alert-webhook-url"},
	{"sentry_dsn", "SENTRY_DSN", "sentry-dsn"},
	{"db_max_conns", "BATON_DB_MAX_CONNS", "db-max-conns"},
	{"trusted_proxies", "BATON_TRUSTED_PROXIES", "trusted-proxies"},
	{"default_tier", "", ""},
	{"shutdown_timeout", "", ""},
	{"lease", "BATON_LEASE", ""},
	{"heartbeat_interval", "BATON_HEARTBEAT_INTERVAL", ""},
	{"pprof_listen", "BATON_PPROF_LISTEN", "pprof-listen"},
	{"pprof_allow_remote", "BATON_PPROF_ALLOW_REMOTE", "pprof-allow-remote"},
	{"metrics_listen", "BATON_METRICS_LISTEN", "metrics-listen"},
	{"metrics_token", "BATON_METRICS_TOKEN", ""},
}

// ServerFlags registers the server's flags on fs: --listen, --database-url,
// --redis-url, --config, --data-dir, --db-max-conns, --log-format,
// --alert-webhook-url, --sentry-dsn and --trusted-proxies. The secret and the admin key have
// no flags, so that they never show in ps or shell history.
func ServerFlags(fs *pflag.FlagSet) {
	fs.String("listen", DefaultListen, "address to listen on (env BATON_LISTEN)")
	fs.String("database-url", "", "postgres://… for PostgreSQL; default SQLite in the data dir (env BATON_DATABASE_URL)")
	fs.String("redis-url", "", "Redis for rate limits across replicas, optional (env BATON_REDIS_URL)")
	fs.String("config", "", "server config file: tiers, costs, alerts (env BATON_CONFIG)")
	fs.String("data-dir", "", "data directory; default $XDG_DATA_HOME/baton (env BATON_DATA_DIR)")
	fs.Int32("db-max-conns", 0, "maximum database connections, 0 for the driver's default (env BATON_DB_MAX_CONNS)")
	fs.String("log-format", DefaultLogFormat, "log format: auto (human with colour on a terminal, JSON otherwise), json or text (logfmt) (env BATON_LOG_FORMAT)")
	fs.String("alert-webhook-url", "", "URL(s), comma-separated, that new alerts are POSTed to (env BATON_ALERT_WEBHOOK_URL)")
	fs.String("sentry-dsn", "", "Sentry DSN for error reports (env SENTRY_DSN)")
	fs.String("trusted-proxies", "", "comma-separated CIDRs of reverse proxies whose X-Forwarded-For is believed by per-address rate limits (env BATON_TRUSTED_PROXIES)")
	fs.String("metrics-listen", "", "serve /metrics on this address only, e.g. 127.0.0.1:9090, instead of the API's (env BATON_METRICS_LISTEN; BATON_METRICS_TOKEN requires a bearer token)")
}

// PprofFlags registers --pprof-listen and --pprof-allow-remote on fs, for
// `baton server` and `baton dev` (not for the maintenance verbs).
func PprofFlags(fs *pflag.FlagSet) {
	fs.String("pprof-listen", "", "serve net/http/pprof on this address, e.g. 127.0.0.1:6060; off by default (env BATON_PPROF_LISTEN)")
	fs.Bool("pprof-allow-remote", false, "allow --pprof-listen on a non-loopback address (env BATON_PPROF_ALLOW_REMOTE)")
}

// DefaultDataDir returns $BATON_DATA_DIR, else $XDG_DATA_HOME/baton (when
// absolute), else $HOME/.local/share/baton, else "".
func DefaultDataDir(getenv func(string) string) string {
	if d := getenv("BATON_DATA_DIR"); d != "" {
		return d
	}
	if x := getenv("XDG_DATA_HOME"); filepath.IsAbs(x) {
		return filepath.Join(x, "baton")
	}
	if h := getenv("HOME"); h != "" {
		return filepath.Join(h, ".local", "share", "baton")
	}
	return ""
}

// LoadServer returns the server's configuration, each setting from the
// first of: a flag set on fs (fs may be nil or lack some of ServerFlags'
// flags), the environment read through getenv, the config file (--config,
// else $BATON_CONFIG; none when both are empty), the default.
//
// It returns an error when the config file cannot be read, is not YAML,
// has an unknown key, or when a value is invalid: an amount (see api.ParseUSD),
// a negative limit, an unknown log format, a bad listen address, duration,
// integer or trusted proxy, or a default_tier that is not a tier. The error names the key
// and, for scalars, where the bad value came from.
func LoadServer(fs *pflag.FlagSet, getenv func(string) string) (Server, error) {
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	changed := func(name string) *pflag.Flag {
		if fs == nil || name == "" {
			return nil
		}
		if f := fs.Lookup(name); f != nil && f.Changed {
			return f
		}
		return nil
	}
	path := getenv(EnvConfig)
	if f := changed("config"); f != nil {
		path = f.Value.String()
	}
	file := &serverFile{}
	if path != "" {
		var err error
		if file, err = readServerFile(path); err != nil {
			return Server{}, err
		}
	}

	// Layers, lowest first: SetDefault, MergeConfigMap (the file), Set for
	// the environment, Set again for flags. Values are kept as text and
	// parsed below, so that an error can say which layer a value came from.
	v := viper.New()
	dataDir := DefaultDataDir(func(k string) string {
		if k == "BATON_DATA_DIR" {
			return "" // the environment layer, not a default
		}
		return getenv(k)
	})
	for k, d := range map[string]string{
		"listen": DefaultListen, "log_format": DefaultLogFormat, "default_tier": DefaultTierName,
		"shutdown_timeout": DefaultShutdownTimeout.String(), "db_max_conns": "0", "data_dir": dataDir,
		"lease": DefaultLease.String(), "heartbeat_interval": DefaultHeartbeatInterval.String(),
		"pprof_allow_remote": "false",
	} {
		v.SetDefault(k, d)
	}
	fromFile := file.scalars()
	if err := v.MergeConfigMap(fromFile); err != nil {
		return Server{}, fmt.Errorf("load server config: %w", err)
	}
	origin := map[string]string{}
	for _, k := range serverKeys {
		origin[k.key] = "default"
		if _, ok := fromFile[k.key]; ok {
			origin[k.key] = path
		}
		if e := getenv(k.env); k.env != "" && e != "" {
			v.Set(k.key, e)
			origin[k.key] = k.env
		}
	}
	for _, k := range serverKeys {
		if f := changed(k.flag); f != nil {
			v.Set(k.key, f.Value.String())
			origin[k.key] = "--" + k.flag
		}
	}
	bad := func(key, msg string) error {
		return fmt.Errorf("%s: %s (from %s)", key, msg, origin[key])
	}

	s := Server{
		Listen: v.GetString("listen"), DatabaseURL: v.GetString("database_url"),
		RedisURL: v.GetString("redis_url"), DataDir: v.GetString("data_dir"),
		Secret: v.GetString("secret"), AdminKey: v.GetString("admin_key"),
		LogFormat:       strings.ToLower(v.GetString("log_format")),
		AlertWebhookURL: v.GetString("alert_webhook_url"), SentryDSN: v.GetString("sentry_dsn"),
		DefaultTier: v.GetString("default_tier"), PprofListen: strings.TrimSpace(v.GetString("pprof_listen")),
		MetricsListen: strings.TrimSpace(v.GetString("metrics_listen")), MetricsToken: v.GetString("metrics_token"),
	}
	if _, _, err := net.SplitHostPort(s.Listen); err != nil {
		return Server{}, bad("listen", fmt.Sprintf("invalid address %q: want host:port", s.Listen))
	}
	if s.PprofListen != "" {
		if _, _, err := net.SplitHostPort(s.PprofListen); err != nil {
			return Server{}, bad("pprof_listen", fmt.Sprintf("invalid address %q: want host:port", s.PprofListen))
		}
	}
	if s.MetricsListen != "" {
		if _, _, err := net.SplitHostPort(s.MetricsListen); err != nil {
			return Server{}, bad("metrics_listen", fmt.Sprintf("invalid address %q: want host:port", s.MetricsListen))
		}
	}
	if s.MetricsToken != "" && len(s.MetricsToken) < 16 {
		return Server{}, bad("metrics_token", "must be at least 16 characters")
	}
	allowRemote, err := strconv.ParseBool(strings.TrimSpace(v.GetString("pprof_allow_remote")))
	if err != nil {
		return Server{}, bad("pprof_allow_remote", fmt.Sprintf("want true or false, got %q", v.GetString("pprof_allow_remote")))
	}
	s.PprofAllowRemote = allowRemote
	if s.LogFormat != "auto" && s.LogFormat != "json" && s.LogFormat != "text" {
		return Server{}, bad("log_format", fmt.Sprintf("must be auto, json or text, got %q", s.LogFormat))
	}
	n, err := strconv.ParseInt(strings.TrimSpace(v.GetString("db_max_conns")), 10, 32)
	if err != nil || n < 0 {
		return Server{}, bad("db_max_conns", fmt.Sprintf("want a whole number >= 0, got %q", v.GetString("db_max_conns")))
	}
	s.DBMaxConns = int32(n)
	duration := func(key string) (time.Duration, error) {
		d, err := time.ParseDuration(strings.TrimSpace(v.GetString(key)))
		if err != nil || d <= 0 {
			return 0, bad(key, fmt.Sprintf("want a positive duration such as 30s, got %q", v.GetString(key)))
		}
		return d, nil
	}
	if s.ShutdownTimeout, err = duration("shutdown_timeout"); err != nil {
		return Server{}, err
	}
	if s.Lease, err = duration("lease"); err != nil {
		return Server{}, err
	}
	if s.HeartbeatInterval, err = duration("heartbeat_interval"); err != nil {
		return Server{}, err
	}
	if s.HeartbeatInterval*2 > s.Lease {
		return Server{}, bad("heartbeat_interval", fmt.Sprintf("must be at most half the lease (%s), so one lost heartbeat does not lose the task", s.Lease))
	}
	if s.TrustedProxies, err = parsePrefixes(v.GetString("trusted_proxies")); err != nil {
		return Server{}, bad("trusted_proxies", err.Error())
	}

	if s.Cost, err = file.cost(); err != nil {
		return Server{}, fmt.Errorf("%w (from %s)", err, path)
	}
	if s.Tiers, err = mergeTiers(file.Tiers); err != nil {
		return Server{}, fmt.Errorf("%w (from %s)", err, path)
	}
	if _, ok := s.Tiers[s.DefaultTier]; !ok {
		return Server{}, bad("default_tier", fmt.Sprintf("%q is not a tier (tiers: %s)", s.DefaultTier, strings.Join(tierNames(s.Tiers), ", ")))
	}
	return s, nil
}

// parsePrefixes parses a comma-separated list of CIDRs or addresses (an
// address is its own /32 or /128). It returns nil for an empty list, and an
// error naming the first entry that is neither.
func parsePrefixes(list string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(list, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		if p, err := netip.ParsePrefix(f); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(f)
		if err != nil {
			return nil, fmt.Errorf("want CIDRs or addresses separated by commas, got %q", f)
		}
		out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	return out, nil
}
