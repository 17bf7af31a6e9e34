package config

import (
	"fmt"
	"maps"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"github.com/spf13/viper"
)

// Environment variables of the CLI.
const (
	EnvServer    = "BATON_SERVER"
	EnvAPIKey    = "BATON_API_KEY"
	EnvProfile   = "BATON_PROFILE"
	EnvWorkspace = "BATON_WORKSPACE"
	// EnvConfig is the CLI's config file path (see Path) and, for
	// `baton server`, the server's config file (see LoadServer).
	EnvConfig = "BATON_CONFIG"
)

// Where a resolved value came from, in Resolved.Source.
const (
	SourceFlag    = "flag"
	SourceEnv     = "env"
	SourceConfig  = "config"
	SourceDefault = "default"
)

// DefaultServer is the server the CLI talks to when nothing else says.
const DefaultServer = "http://127.0.0.1:7070"

// DefaultProfile is the profile used when none is named anywhere.
const DefaultProfile = "default"

// Setting is one global setting of the CLI: a flag, an environment
// variable (BATON_ and the key in capitals) and a key of a profile in the
// config file, resolved by viper flag > environment > config file >
// default.
type Setting struct {
	Key, Flag, Env string
	Default        any
}

// Settings are every global setting of the CLI (the persistent flags of
// the root command), in the order `baton help environment` lists them.
var Settings = []Setting{
	{"server", "server", EnvServer, DefaultServer},
	{"profile", "profile", EnvProfile, DefaultProfile},
	{"api_key", "api-key", EnvAPIKey, ""},
	{"workspace", "workspace", EnvWorkspace, ""},
	{"output", "output", "BATON_OUTPUT", "table"},
	{"no_color", "no-color", "BATON_NO_COLOR", false},
	{"quiet", "quiet", "BATON_QUIET", false},
	{"jq", "jq", "BATON_JQ", ""},
	{"template", "template", "BATON_TEMPLATE", ""},
	{"debug", "debug", "BATON_DEBUG", false},
	{"timeout", "timeout", "BATON_TIMEOUT", time.Duration(0)},
}

// Resolved is the CLI's effective configuration.
type Resolved struct {
	// Profile is the profile used; it need not exist in the file yet
	// (`baton login` creates it).
	Profile string
	// Server has no trailing slash. APIKey and Workspace may be empty.
	Server, APIKey, Workspace string
	// Output, NoColor, Quiet, JQ, Template, Debug and Timeout are the
	// other global settings.
	Output         string
	NoColor, Quiet bool
	JQ, Template   string
	Debug          bool
	Timeout        time.Duration
	// Source maps a setting's key ("profile", "server", "api_key", …) to
	// where its value came from: SourceFlag, SourceEnv, SourceConfig or
	// SourceDefault. Settings that are unset (empty, false, 0) have no
	// entry, except profile and server, which always have a value.
	Source map[string]string
}

// ResolveOptions are the inputs of Resolve.
type ResolveOptions struct {
	// File is the config file (nil: none).
	File *File
	// Flags are the parsed global flags (nil: none); only flags the user
	// set count (pflag's Changed), through viper's BindPFlag.
	Flags *pflag.FlagSet
	// Getenv, when not nil, replaces the process environment (tests of the
	// command tree, which run in parallel and so cannot t.Setenv). When
	// nil, viper reads the process environment itself (SetEnvPrefix
	// "BATON", BindEnv, AutomaticEnv).
	Getenv func(string) string
}

// Resolve layers the CLI's global settings with viper: flags (BindPFlag)
// over the environment (BATON_*) over the profile's values in the config
// file over defaults. The profile is resolved the same way first
// (--profile, BATON_PROFILE, the file's current_profile, "default"), then
// its values are the config layer of the others. It returns an error,
// naming where the bad value came from, when the profile name is invalid,
// the server is not an http(s) URL, or a boolean or duration does not
// parse.
func Resolve(o ResolveOptions) (Resolved, error) {
	f := o.File
	if f == nil {
		f = &File{}
	}
	v := viper.New()
	envSet := func(name string) bool { _, ok := os.LookupEnv(name); return ok && os.Getenv(name) != "" }
	if o.Getenv == nil {
		v.SetEnvPrefix("BATON")
		v.SetEnvKeyReplacer(strings.NewReplacer("-", "_"))
		v.AutomaticEnv()
	} else {
		envSet = func(name string) bool { return o.Getenv(name) != "" }
	}
	for _, s := range Settings {
		v.SetDefault(s.Key, s.Default)
		if o.Getenv == nil {
			if err := v.BindEnv(s.Key, s.Env); err != nil {
				return Resolved{}, fmt.Errorf("resolve config: %w", err)
			}
		}
		if o.Flags != nil {
			if fl := o.Flags.Lookup(s.Flag); fl != nil {
				if err := v.BindPFlag(s.Key, fl); err != nil {
					return Resolved{}, fmt.Errorf("resolve config: %w", err)
				}
			}
		}
	}
	// An injected environment sits in the config layer above the file:
	// below the flags, above the file, as the process environment would.
	injected := func() map[string]any {
		m := map[string]any{}
		if o.Getenv != nil {
			for _, s := range Settings {
				if val := o.Getenv(s.Env); val != "" {
					m[s.Key] = val
				}
			}
		}
		return m
	}
	flagSet := func(s Setting) bool { return o.Flags != nil && o.Flags.Changed(s.Flag) }
	source := func(s Setting, inFile bool) (string, string) {
		switch {
		case flagSet(s):
			return SourceFlag, "--" + s.Flag
		case envSet(s.Env):
			return SourceEnv, s.Env
		case inFile:
			return SourceConfig, ""
		}
		return SourceDefault, "default"
	}

	// The profile first: the file's current_profile is its config value.
	r := Resolved{Source: map[string]string{}}
	layer := map[string]any{}
	if f.CurrentProfile != "" {
		layer["profile"] = f.CurrentProfile
	}
	maps.Copy(layer, injected())
	if err := v.MergeConfigMap(layer); err != nil {
		return Resolved{}, fmt.Errorf("resolve config: %w", err)
	}
	r.Profile = v.GetString("profile")
	src, from := source(Settings[1], f.CurrentProfile != "")
	if src == SourceConfig {
		from = "current_profile"
	}
	r.Source["profile"] = src
	if err := ValidateProfileName(r.Profile); err != nil {
		return Resolved{}, fmt.Errorf("%w (from %s)", err, from)
	}

	// Then the profile's values, under the injected environment.
	p := f.Profiles[r.Profile]
	inFile := p.settings()
	layer = maps.Clone(inFile)
	maps.Copy(layer, injected())
	if err := v.MergeConfigMap(layer); err != nil {
		return Resolved{}, fmt.Errorf("resolve config: %w", err)
	}
	origin := map[string]string{}
	for _, s := range Settings[2:] {
		_, in := inFile[s.Key]
		src, from := source(s, in)
		if src == SourceConfig {
			from = "profile " + r.Profile
		}
		origin[s.Key] = from
		if src != SourceDefault {
			r.Source[s.Key] = src
		}
	}
	src, from = source(Settings[0], inFile["server"] != nil)
	if src == SourceConfig {
		from = "profile " + r.Profile
	}
	r.Source["server"], origin["server"] = src, from

	r.Server = strings.TrimRight(v.GetString("server"), "/")
	r.APIKey = v.GetString("api_key")
	r.Workspace = v.GetString("workspace")
	r.Output = v.GetString("output")
	r.JQ = v.GetString("jq")
	r.Template = v.GetString("template")
	if err := checkServerURL(r.Server); err != nil {
		return Resolved{}, fmt.Errorf("%w (from %s)", err, origin["server"])
	}
	var err error
	for key, dst := range map[string]*bool{"no_color": &r.NoColor, "quiet": &r.Quiet, "debug": &r.Debug} {
		if *dst, err = getBool(v, key); err != nil {
			return Resolved{}, fmt.Errorf("%s: %w (from %s)", key, err, origin[key])
		}
	}
	if r.Timeout, err = getDuration(v, "timeout"); err != nil {
		return Resolved{}, fmt.Errorf("timeout: %w (from %s)", err, origin["timeout"])
	}
	if r.Timeout < 0 {
		return Resolved{}, fmt.Errorf("timeout: must not be negative (from %s)", origin["timeout"])
	}
	// Unset values have no Source entry (see Resolved).
	for key, set := range map[string]bool{"api_key": r.APIKey != "", "workspace": r.Workspace != "",
		"no_color": r.NoColor, "quiet": r.Quiet, "debug": r.Debug, "jq": r.JQ != "", "template": r.Template != "",
		"timeout": r.Timeout != 0} {
		if !set {
			delete(r.Source, key)
		}
	}
	return r, nil
}

// getBool reads a boolean strictly: viper's cast would read "yes" as false.
func getBool(v *viper.Viper, key string) (bool, error) {
	switch x := v.Get(key).(type) {
	case bool:
		return x, nil
	case string:
		b, err := strconv.ParseBool(strings.TrimSpace(x))
		if err != nil {
			return false, fmt.Errorf("%q is not a boolean (true, false, 1, 0)", x)
		}
		return b, nil
	}
	return v.GetBool(key), nil
}

// getDuration reads a duration strictly ("30s", "2m"; a bare 0 is 0).
func getDuration(v *viper.Viper, key string) (time.Duration, error) {
	switch x := v.Get(key).(type) {
	case time.Duration:
		return x, nil
	case string:
		if strings.TrimSpace(x) == "0" {
			return 0, nil
		}
		d, err := time.ParseDuration(strings.TrimSpace(x))
		if err != nil {
			return 0, fmt.Errorf("%q is not a duration (e.g. 30s, 2m)", x)
		}
		return d, nil
	}
	return v.GetDuration(key), nil
}

// checkServerURL returns an error unless s is an absolute http(s) URL with
// a host.
func checkServerURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("invalid server %q: want a URL such as https://baton.example.com", s)
	}
	return nil
}
