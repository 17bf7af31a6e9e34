package config

import (
	"fmt"
	"net/url"
	"strings"

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

// Flags are the CLI's global flags that Resolve layers; "" means not given.
type Flags struct {
	Server, APIKey, Profile, Workspace string
}

// Resolved is the CLI's effective configuration.
type Resolved struct {
	// Profile is the profile used; it need not exist in the file yet
	// (`baton login` creates it).
	Profile string
	// Server has no trailing slash. APIKey and Workspace may be empty.
	Server, APIKey, Workspace string
	// Source maps "profile", "server", "api_key" and "workspace" to where
	// the value came from: SourceFlag, SourceEnv, SourceConfig or
	// SourceDefault. Values that are unset have no entry.
	Source map[string]string
}

// resolveKeys are the keys Resolve layers, with their flag and env names.
var resolveKeys = []struct{ key, flag, env string }{
	{"server", "--server", EnvServer},
	{"api_key", "--api-key", EnvAPIKey},
	{"workspace", "--workspace", EnvWorkspace},
}

// Resolve layers the CLI's configuration: flags over the environment (read
// only through getenv) over the profile in f over defaults. The profile is
// --profile, else $BATON_PROFILE, else f's current_profile, else "default".
// f may be nil. It returns an error when the profile name is invalid or the
// server is not an http(s) URL; the error says where the bad value came from.
func Resolve(f *File, flags Flags, getenv func(string) string) (Resolved, error) {
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	if f == nil {
		f = &File{}
	}
	r := Resolved{Source: map[string]string{}}
	var from string
	switch {
	case flags.Profile != "":
		r.Profile, r.Source["profile"], from = flags.Profile, SourceFlag, "--profile"
	case getenv(EnvProfile) != "":
		r.Profile, r.Source["profile"], from = getenv(EnvProfile), SourceEnv, EnvProfile
	case f.CurrentProfile != "":
		r.Profile, r.Source["profile"], from = f.CurrentProfile, SourceConfig, "current_profile"
	default:
		r.Profile, r.Source["profile"], from = DefaultProfile, SourceDefault, "default"
	}
	if err := ValidateProfileName(r.Profile); err != nil {
		return Resolved{}, fmt.Errorf("%w (from %s)", err, from)
	}

	// One viper per call, fed only what it is given here: viper's own
	// environment lookup (AutomaticEnv, BindEnv) reads os.Getenv, so it is
	// not used. Layers: SetDefault < MergeConfigMap < Set; within Set,
	// flags are set after the environment so that they win.
	v := viper.New()
	v.SetDefault("server", DefaultServer)
	p := f.Profiles[r.Profile]
	profile := map[string]any{}
	for k, val := range map[string]string{"server": p.Server, "api_key": p.APIKey, "workspace": p.Workspace} {
		if val != "" {
			profile[k] = val
		}
	}
	if err := v.MergeConfigMap(profile); err != nil {
		return Resolved{}, fmt.Errorf("resolve config: %w", err)
	}
	flagValues := map[string]string{"server": flags.Server, "api_key": flags.APIKey, "workspace": flags.Workspace}
	origin := map[string]string{"server": "default"}
	for _, k := range resolveKeys {
		switch {
		case flagValues[k.key] != "":
			r.Source[k.key], origin[k.key] = SourceFlag, k.flag
		case getenv(k.env) != "":
			r.Source[k.key], origin[k.key] = SourceEnv, k.env
		case profile[k.key] != nil:
			r.Source[k.key], origin[k.key] = SourceConfig, "profile "+r.Profile
		case k.key == "server":
			r.Source[k.key] = SourceDefault
		}
		if e := getenv(k.env); e != "" {
			v.Set(k.key, e)
		}
	}
	for _, k := range resolveKeys {
		if val := flagValues[k.key]; val != "" {
			v.Set(k.key, val)
		}
	}
	r.Server = strings.TrimRight(v.GetString("server"), "/")
	r.APIKey = v.GetString("api_key")
	r.Workspace = v.GetString("workspace")
	if err := checkServerURL(r.Server); err != nil {
		return Resolved{}, fmt.Errorf("%w (from %s)", err, origin["server"])
	}
	return r, nil
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
