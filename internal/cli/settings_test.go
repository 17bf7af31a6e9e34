package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/pflag"

	"github.com/genericcorp/baton/internal/cli/cmdutil"
	"github.com/genericcorp/baton/internal/iostreams"
	"github.com/genericcorp/baton/pkg/config"
)

// TestEveryGlobalFlagIsASetting (issue 16, config as viper intends): the
// root command's persistent flags and config.Settings are the same set,
// each flag's help names its BATON_ variable, and through the real command
// tree each setting resolves flag > environment > profile key > default,
// the Source saying which layer won.
func TestEveryGlobalFlagIsASetting(t *testing.T) {
	ios, _, _, _ := iostreams.Test()
	root := NewCmdRoot(cmdutil.New(ios, func(string) string { return "" }))
	var flags []string
	root.PersistentFlags().VisitAll(func(fl *pflag.Flag) {
		flags = append(flags, fl.Name)
		if !strings.Contains(fl.Usage, "env BATON_") {
			t.Errorf("--%s: its help does not name its variable: %q", fl.Name, fl.Usage)
		}
	})
	var settings []string
	for _, s := range config.Settings {
		settings = append(settings, s.Flag)
		if fl := root.PersistentFlags().Lookup(s.Flag); fl != nil && !strings.Contains(fl.Usage, s.Env) {
			t.Errorf("--%s: help names another variable than %s: %q", s.Flag, s.Env, fl.Usage)
		}
	}
	slices.Sort(flags)
	slices.Sort(settings)
	if !slices.Equal(flags, settings) {
		t.Fatalf("persistent flags %v, settings %v", flags, settings)
	}

	// Three values per setting, one for each layer; the profile layer is
	// a YAML key of profile p, named as the setting.
	vals := map[string][3]string{ // flag, env, file
		"server":    {"https://flag.example", "https://env.example", "https://file.example"},
		"profile":   {"pflag", "penv", "p"},
		"api_key":   {"bk_flag", "bk_env", "bk_file"},
		"workspace": {"ws_flag", "ws_env", "ws_file"},
		"output":    {"json", "yaml", "csv"},
		"no_color":  {"true", "true", "true"},
		"quiet":     {"true", "true", "true"},
		"jq":        {".id", ".queue", ".status"},
		"template":  {"{{.id}}", "{{.queue}}", "{{.status}}"},
		"debug":     {"true", "true", "true"},
		"timeout":   {"5s", "10s", "15s"},
	}
	for _, s := range config.Settings {
		v, ok := vals[s.Key]
		if !ok {
			t.Fatalf("setting %s has no values in this test", s.Key)
		}
		for _, layer := range []string{"flag", "env", "config", "default"} {
			t.Run(s.Key+"/"+layer, func(t *testing.T) {
				dir := t.TempDir()
				env := map[string]string{"XDG_CONFIG_HOME": dir}
				file := "current_profile: p\nprofiles:\n  p: {}\n"
				args := []string{"completion", "bash"} // runs PersistentPreRunE, needs no server
				want, wantSrc := fmt.Sprint(s.Default), config.SourceDefault
				switch layer {
				case "flag":
					args = append(args, "--"+s.Flag+"="+v[0])
					want, wantSrc = v[0], config.SourceFlag
					fallthrough
				case "env":
					env[s.Env] = v[1]
					if layer == "env" {
						want, wantSrc = v[1], config.SourceEnv
					}
					fallthrough
				case "config":
					if s.Key == "profile" {
						file = "current_profile: p\nprofiles:\n  p: {}\n"
					} else {
						val := fmt.Sprintf("%q", v[2])
						if _, isBool := s.Default.(bool); isBool {
							val = v[2]
						}
						file = fmt.Sprintf("current_profile: p\nprofiles:\n  p:\n    %s: %s\n", s.Key, val)
					}
					if layer == "config" {
						want, wantSrc = v[2], config.SourceConfig
					}
				}
				if s.Key == "profile" && layer == "default" {
					file, want = "profiles: {}\n", config.DefaultProfile
				}
				path := filepath.Join(dir, "baton", "config.yaml")
				if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(file), 0o600); err != nil {
					t.Fatal(err)
				}
				ios, _, _, errOut := iostreams.Test()
				f := cmdutil.New(ios, func(k string) string { return env[k] })
				if code := Run(context.Background(), f, args); code != 0 {
					t.Fatalf("exit %d: %s", code, errOut.String())
				}
				r, err := f.Resolved()
				if err != nil {
					t.Fatal(err)
				}
				if got := resolvedValue(r, s.Key); got != want {
					t.Errorf("%s = %q, want %q (sources %v)", s.Key, got, want, r.Source)
				}
				if src, set := r.Source[s.Key]; (set || wantSrc != config.SourceDefault) && src != wantSrc {
					t.Errorf("Source[%s] = %q, want %q", s.Key, src, wantSrc)
				}
			})
		}
	}
}

// resolvedValue is setting key's value in r, as text.
func resolvedValue(r config.Resolved, key string) string {
	return map[string]string{
		"server": r.Server, "profile": r.Profile, "api_key": r.APIKey, "workspace": r.Workspace,
		"output": r.Output, "no_color": fmt.Sprint(r.NoColor), "quiet": fmt.Sprint(r.Quiet), "jq": r.JQ,
		"template": r.Template, "debug": fmt.Sprint(r.Debug), "timeout": r.Timeout.String(),
	}[key]
}
