package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"

	"github.com/genericcorp/baton/pkg/api"
	"gopkg.in/yaml.v3"
)

// serverFile is the server's config file. Scalars are read as their text
// (a YAML number 0.00002 stays "0.00002"), so money is never a float and
// every value is parsed, with its key in the error, in one place.
type serverFile struct {
	Listen            *string `yaml:"listen"`
	DatabaseURL       *string `yaml:"database_url"`
	RedisURL          *string `yaml:"redis_url"`
	DataDir           *string `yaml:"data_dir"`
	LogFormat         *string `yaml:"log_format"`
	AlertWebhookURL   *string `yaml:"alert_webhook_url"`
	SentryDSN         *string `yaml:"sentry_dsn"`
	DefaultTier       *string `yaml:"default_tier"`
	DBMaxConns        *string `yaml:"db_max_conns"`
	ShutdownTimeout   *string `yaml:"shutdown_timeout"`
	Lease             *string `yaml:"lease"`
	HeartbeatInterval *string `yaml:"heartbeat_interval"`
	TrustedProxies    *string `yaml:"trusted_proxies"` // comma-separated CIDRs
	Cost              struct {
		ExecutionSecondUSD *string `yaml:"execution_second_usd"`
		APICallUSD         *string `yaml:"api_call_usd"`
	} `yaml:"cost"`
	Tiers map[string]tierFile `yaml:"tiers"`
}

// readServerFile reads the server's config file at path. It returns an
// error when the file cannot be read, is not YAML, or has a key it does not
// know (a typo would otherwise silently keep a default).
func readServerFile(path string) (*serverFile, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read server config: %w", err)
	}
	f := &serverFile{}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(f); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("parse server config %s: %w", path, err)
	}
	return f, nil
}

// scalars returns the file's non-empty scalar settings by key.
func (f *serverFile) scalars() map[string]any {
	m := map[string]any{}
	for k, p := range map[string]*string{
		"listen": f.Listen, "database_url": f.DatabaseURL, "redis_url": f.RedisURL,
		"data_dir": f.DataDir, "log_format": f.LogFormat, "alert_webhook_url": f.AlertWebhookURL,
		"sentry_dsn": f.SentryDSN, "default_tier": f.DefaultTier, "db_max_conns": f.DBMaxConns,
		"shutdown_timeout": f.ShutdownTimeout, "trusted_proxies": f.TrustedProxies,
		"lease": f.Lease, "heartbeat_interval": f.HeartbeatInterval,
	} {
		if p != nil && *p != "" {
			m[k] = *p
		}
	}
	return m
}

// cost returns the cost model: the file's amounts over the defaults. It
// returns an error naming the key of an invalid amount.
func (f *serverFile) cost() (Cost, error) {
	get := func(key string, p *string, def string) (int64, error) {
		s := def
		if p != nil {
			s = *p
		}
		m, err := api.ParseUSD(s)
		if err != nil {
			return 0, fmt.Errorf("%s: %w", key, err)
		}
		return m, nil
	}
	var c Cost
	var err error
	if c.ExecutionSecondMicros, err = get("cost.execution_second_usd", f.Cost.ExecutionSecondUSD, DefaultExecutionSecondUSD); err != nil {
		return Cost{}, err
	}
	if c.APICallMicros, err = get("cost.api_call_usd", f.Cost.APICallUSD, DefaultAPICallUSD); err != nil {
		return Cost{}, err
	}
	return c, nil
}

// tierNames returns the names of tiers, sorted.
func tierNames(tiers map[string]api.Tier) []string {
	names := make([]string, 0, len(tiers))
	for n := range tiers {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
