package config

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

func sampleFile() *File {
	return &File{CurrentProfile: "dev", Profiles: map[string]Profile{
		"dev":  {Name: "dev", Server: "http://dev.local:7070/", APIKey: "bk_dev", Workspace: "ws_dev"},
		"prod": {Name: "prod", Server: "https://baton.example.com", APIKey: "bk_prod"},
	}}
}

// globalFlags is a flag set like the root command's persistent flags,
// parsed from args.
func globalFlags(t *testing.T, args ...string) *pflag.FlagSet {
	t.Helper()
	fs := pflag.NewFlagSet("baton", pflag.ContinueOnError)
	fs.String("server", "", "")
	fs.String("profile", "", "")
	fs.String("api-key", "", "")
	fs.String("workspace", "", "")
	fs.StringP("output", "o", "table", "")
	fs.Bool("no-color", false, "")
	fs.BoolP("quiet", "q", false, "")
	fs.String("jq", "", "")
	fs.String("template", "", "")
	fs.Bool("debug", false, "")
	fs.Duration("timeout", 0, "")
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return fs
}

// envModes run a case with the environment injected (Getenv) and with the
// process environment read by viper itself (t.Setenv).
var envModes = []string{"injected", "process"}

// resolveWith resolves with env laid out as mode says.
func resolveWith(t *testing.T, mode string, file *File, flags *pflag.FlagSet, env map[string]string) (Resolved, error) {
	t.Helper()
	o := ResolveOptions{File: file, Flags: flags}
	switch mode {
	case "injected":
		o.Getenv = func(k string) string { return env[k] }
	case "process":
		for _, s := range Settings {
			t.Setenv(s.Env, env[s.Env])
		}
	}
	return Resolve(o)
}

// TestResolveEverySetting (issue 16): every global setting has a flag, a
// BATON_ variable and a profile key, and viper resolves each flag > env >
// config file > default, the Source saying which. Each setting is tried
// at each layer, with the environment injected and from the process.
func TestResolveEverySetting(t *testing.T) {
	type values struct{ flag, env, file string }
	vals := map[string]values{
		"server":    {"https://flag.example", "https://env.example", "https://file.example"},
		"api_key":   {"bk_flag", "bk_env", "bk_file"},
		"workspace": {"ws_flag", "ws_env", "ws_file"},
		"output":    {"json", "yaml", "csv"},
		"no_color":  {"true", "1", "true"},
		"quiet":     {"true", "true", "true"},
		"jq":        {".id", ".queue", ".status"},
		"template":  {"{{.id}}", "{{.queue}}", "{{.status}}"},
		"debug":     {"true", "1", "true"},
		"timeout":   {"5s", "10s", "15s"},
	}
	fileProfile := func(key, val string) Profile {
		p := Profile{}
		switch key {
		case "server":
			p.Server = val
		case "api_key":
			p.APIKey = val
		case "workspace":
			p.Workspace = val
		case "output":
			p.Output = val
		case "no_color":
			p.NoColor = true
		case "quiet":
			p.Quiet = true
		case "jq":
			p.JQ = val
		case "template":
			p.Template = val
		case "debug":
			p.Debug = true
		case "timeout":
			p.Timeout = val
		}
		return p
	}
	get := func(r Resolved, key string) string {
		switch key {
		case "server":
			return r.Server
		case "api_key":
			return r.APIKey
		case "workspace":
			return r.Workspace
		case "output":
			return r.Output
		case "no_color":
			return boolText(r.NoColor)
		case "quiet":
			return boolText(r.Quiet)
		case "jq":
			return r.JQ
		case "template":
			return r.Template
		case "debug":
			return boolText(r.Debug)
		case "timeout":
			return r.Timeout.String()
		}
		t.Fatalf("no setting %s", key)
		return ""
	}
	norm := func(key, v string) string { // what the resolved value prints as
		switch {
		case v == "1":
			return "true"
		case key == "timeout":
			d, _ := time.ParseDuration(v)
			return d.String()
		}
		return v
	}
	defaults := map[string]string{"server": DefaultServer, "output": "table", "no_color": "false", "quiet": "false", "debug": "false", "timeout": "0s"}
	var flagOf = map[string]string{}
	for _, s := range Settings {
		flagOf[s.Key] = s.Flag
	}
	if len(vals) != len(Settings)-1 { // profile has TestResolveProfile
		t.Fatalf("%d settings tried, %d defined", len(vals), len(Settings)-1)
	}
	for _, mode := range envModes {
		for _, s := range Settings {
			if s.Key == "profile" {
				continue
			}
			v := vals[s.Key]
			for _, layer := range []string{"default", "config", "env", "flag"} {
				t.Run(mode+"/"+s.Key+"/"+layer, func(t *testing.T) {
					file := &File{CurrentProfile: "p", Profiles: map[string]Profile{}}
					env := map[string]string{}
					var args []string
					want := defaults[s.Key]
					switch layer {
					case "flag":
						args = []string{"--" + flagOf[s.Key] + "=" + v.flag}
						want = norm(s.Key, v.flag)
						fallthrough
					case "env":
						env[s.Env] = v.env
						if layer == "env" {
							want = norm(s.Key, v.env)
						}
						fallthrough
					case "config":
						file.Profiles["p"] = fileProfile(s.Key, v.file)
						if layer == "config" {
							want = norm(s.Key, v.file)
						}
					}
					r, err := resolveWith(t, mode, file, globalFlags(t, args...), env)
					if err != nil {
						t.Fatal(err)
					}
					if got := get(r, s.Key); got != want {
						t.Errorf("%s = %q, want %q", s.Key, got, want)
					}
					wantSrc := layer
					if layer == "default" && s.Key != "server" {
						wantSrc = "" // unset: no entry
					}
					if r.Source[s.Key] != wantSrc {
						t.Errorf("Source[%s] = %q, want %q (all: %v)", s.Key, r.Source[s.Key], wantSrc, r.Source)
					}
				})
			}
		}
	}
}

func boolText(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

func TestResolveProfile(t *testing.T) {
	tests := []struct {
		name string
		file *File
		args []string
		env  map[string]string
		want Resolved
	}{
		{
			name: "nothing anywhere",
			want: Resolved{Profile: "default", Server: DefaultServer, Output: "table",
				Source: map[string]string{"profile": "default", "server": "default"}},
		},
		{
			name: "current profile from the file",
			file: sampleFile(),
			want: Resolved{Profile: "dev", Server: "http://dev.local:7070", APIKey: "bk_dev", Workspace: "ws_dev", Output: "table",
				Source: map[string]string{"profile": "config", "server": "config", "api_key": "config", "workspace": "config"}},
		},
		{
			name: "BATON_PROFILE beats current_profile",
			file: sampleFile(),
			env:  map[string]string{"BATON_PROFILE": "prod"},
			want: Resolved{Profile: "prod", Server: "https://baton.example.com", APIKey: "bk_prod", Output: "table",
				Source: map[string]string{"profile": "env", "server": "config", "api_key": "config"}},
		},
		{
			name: "--profile beats BATON_PROFILE",
			file: sampleFile(),
			args: []string{"--profile", "dev"},
			env:  map[string]string{"BATON_PROFILE": "prod"},
			want: Resolved{Profile: "dev", Server: "http://dev.local:7070", APIKey: "bk_dev", Workspace: "ws_dev", Output: "table",
				Source: map[string]string{"profile": "flag", "server": "config", "api_key": "config", "workspace": "config"}},
		},
		{
			name: "mixed layers",
			file: sampleFile(),
			args: []string{"--api-key", "bk_flag", "-o", "json"},
			env:  map[string]string{"BATON_SERVER": "https://env.example", "BATON_TIMEOUT": "30s"},
			want: Resolved{Profile: "dev", Server: "https://env.example", APIKey: "bk_flag", Workspace: "ws_dev", Output: "json", Timeout: 30 * time.Second,
				Source: map[string]string{"profile": "config", "server": "env", "api_key": "flag", "workspace": "config", "output": "flag", "timeout": "env"}},
		},
		{
			name: "a profile not in the file is no error",
			file: sampleFile(),
			args: []string{"--profile", "staging"},
			want: Resolved{Profile: "staging", Server: DefaultServer, Output: "table",
				Source: map[string]string{"profile": "flag", "server": "default"}},
		},
	}
	for _, mode := range envModes {
		for _, tt := range tests {
			t.Run(mode+"/"+tt.name, func(t *testing.T) {
				got, err := resolveWith(t, mode, tt.file, globalFlags(t, tt.args...), tt.env)
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(got, tt.want) {
					t.Fatalf("Resolve =\n %+v\nwant\n %+v", got, tt.want)
				}
			})
		}
	}
}

// With an injected environment, the process environment does not count
// (tests of the command tree run in parallel on their own environments).
func TestResolveInjectedIgnoresProcessEnv(t *testing.T) {
	for _, s := range Settings {
		t.Setenv(s.Env, "")
	}
	t.Setenv("BATON_SERVER", "https://process.example")
	t.Setenv("BATON_API_KEY", "bk_process")
	t.Setenv("BATON_PROFILE", "prod")
	t.Setenv("BATON_OUTPUT", "json")
	got, err := Resolve(ResolveOptions{File: sampleFile(), Getenv: func(string) string { return "" }})
	if err != nil {
		t.Fatal(err)
	}
	if got.Profile != "dev" || got.Server != "http://dev.local:7070" || got.APIKey != "bk_dev" || got.Output != "table" {
		t.Fatalf("process env leaked: %+v", got)
	}
	// Without one, viper reads the process environment.
	got, err = Resolve(ResolveOptions{File: sampleFile()})
	if err != nil || got.Profile != "prod" || got.Server != "https://process.example" || got.APIKey != "bk_process" || got.Output != "json" {
		t.Fatalf("process env not read: %+v, %v", got, err)
	}
}

func TestResolveErrors(t *testing.T) {
	tests := []struct {
		args []string
		env  map[string]string
		file *File
		want string
	}{
		{[]string{"--profile", "Bad!"}, nil, nil, "--profile"},
		{nil, map[string]string{"BATON_PROFILE": "a b"}, nil, "BATON_PROFILE"},
		{nil, nil, &File{CurrentProfile: "UPPER"}, "current_profile"},
		{[]string{"--server", "ftp://x"}, nil, nil, "--server"},
		{nil, map[string]string{"BATON_SERVER": "localhost:7070"}, nil, "BATON_SERVER"},
		{nil, nil, &File{CurrentProfile: "p", Profiles: map[string]Profile{"p": {Server: "http://"}}}, "profile p"},
		{nil, map[string]string{"BATON_TIMEOUT": "soon"}, nil, `timeout: "soon" is not a duration (e.g. 30s, 2m) (from BATON_TIMEOUT)`},
		{nil, nil, &File{CurrentProfile: "p", Profiles: map[string]Profile{"p": {Timeout: "-5s"}}}, "timeout: must not be negative (from profile p)"},
		{nil, map[string]string{"BATON_DEBUG": "yes please"}, nil, `debug: "yes please" is not a boolean`},
	}
	for _, mode := range envModes {
		for _, tt := range tests {
			_, err := resolveWith(t, mode, tt.file, globalFlags(t, tt.args...), tt.env)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("%s: Resolve(%v, %v) error = %v; want one naming %s", mode, tt.args, tt.env, err, tt.want)
			}
		}
	}
}
