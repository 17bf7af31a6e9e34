package config

import (
	"reflect"
	"strings"
	"testing"
)

func sampleFile() *File {
	return &File{CurrentProfile: "dev", Profiles: map[string]Profile{
		"dev":  {Name: "dev", Server: "http://dev.local:7070/", APIKey: "bk_dev", Workspace: "ws_dev"},
		"prod": {Name: "prod", Server: "https://baton.example.com", APIKey: "bk_prod"},
	}}
}

func TestResolvePrecedence(t *testing.T) {
	tests := []struct {
		name  string
		file  *File
		flags Flags
		env   map[string]string
		want  Resolved
	}{
		{
			name: "nothing anywhere",
			want: Resolved{Profile: "default", Server: DefaultServer,
				Source: map[string]string{"profile": "default", "server": "default"}},
		},
		{
			name: "current profile from the file",
			file: sampleFile(),
			want: Resolved{Profile: "dev", Server: "http://dev.local:7070", APIKey: "bk_dev", Workspace: "ws_dev",
				Source: map[string]string{"profile": "config", "server": "config", "api_key": "config", "workspace": "config"}},
		},
		{
			name: "BATON_PROFILE beats current_profile",
			file: sampleFile(),
			env:  map[string]string{"BATON_PROFILE": "prod"},
			want: Resolved{Profile: "prod", Server: "https://baton.example.com", APIKey: "bk_prod",
				Source: map[string]string{"profile": "env", "server": "config", "api_key": "config"}},
		},
		{
			name:  "--profile beats BATON_PROFILE",
			file:  sampleFile(),
			flags: Flags{Profile: "dev"},
			env:   map[string]string{"BATON_PROFILE": "prod"},
			want: Resolved{Profile: "dev", Server: "http://dev.local:7070", APIKey: "bk_dev", Workspace: "ws_dev",
				Source: map[string]string{"profile": "flag", "server": "config", "api_key": "config", "workspace": "config"}},
		},
		{
			name: "env beats the profile",
			file: sampleFile(),
			env:  map[string]string{"BATON_SERVER": "https://env.example", "BATON_API_KEY": "bk_env", "BATON_WORKSPACE": "ws_env"},
			want: Resolved{Profile: "dev", Server: "https://env.example", APIKey: "bk_env", Workspace: "ws_env",
				Source: map[string]string{"profile": "config", "server": "env", "api_key": "env", "workspace": "env"}},
		},
		{
			name:  "flags beat env",
			file:  sampleFile(),
			flags: Flags{Server: "https://flag.example", APIKey: "bk_flag", Workspace: "ws_flag"},
			env:   map[string]string{"BATON_SERVER": "https://env.example", "BATON_API_KEY": "bk_env", "BATON_WORKSPACE": "ws_env"},
			want: Resolved{Profile: "dev", Server: "https://flag.example", APIKey: "bk_flag", Workspace: "ws_flag",
				Source: map[string]string{"profile": "config", "server": "flag", "api_key": "flag", "workspace": "flag"}},
		},
		{
			name:  "mixed layers",
			file:  sampleFile(),
			flags: Flags{APIKey: "bk_flag"},
			env:   map[string]string{"BATON_SERVER": "https://env.example"},
			want: Resolved{Profile: "dev", Server: "https://env.example", APIKey: "bk_flag", Workspace: "ws_dev",
				Source: map[string]string{"profile": "config", "server": "env", "api_key": "flag", "workspace": "config"}},
		},
		{
			name:  "a profile not in the file is no error",
			file:  sampleFile(),
			flags: Flags{Profile: "staging"},
			want: Resolved{Profile: "staging", Server: DefaultServer,
				Source: map[string]string{"profile": "flag", "server": "default"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Resolve(tt.file, tt.flags, env(tt.env))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("Resolve =\n %+v\nwant\n %+v", got, tt.want)
			}
		})
	}
}

// The process environment must not leak into Resolve: only getenv counts.
func TestResolveIgnoresProcessEnv(t *testing.T) {
	t.Setenv("BATON_SERVER", "https://process.example")
	t.Setenv("BATON_API_KEY", "bk_process")
	t.Setenv("BATON_PROFILE", "prod")
	t.Setenv("BATON_WORKSPACE", "ws_process")
	t.Setenv("SERVER", "https://process.example")
	t.Setenv("API_KEY", "bk_process")
	got, err := Resolve(sampleFile(), Flags{}, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if got.Profile != "dev" || got.Server != "http://dev.local:7070" || got.APIKey != "bk_dev" || got.Workspace != "ws_dev" {
		t.Fatalf("process env leaked: %+v", got)
	}
	got, err = Resolve(nil, Flags{}, nil)
	if err != nil || got.Server != DefaultServer || got.APIKey != "" {
		t.Fatalf("Resolve(nil, nil getenv) = %+v, %v", got, err)
	}
}

func TestResolveErrors(t *testing.T) {
	tests := []struct {
		flags Flags
		env   map[string]string
		file  *File
		want  string
	}{
		{Flags{Profile: "Bad!"}, nil, nil, "--profile"},
		{Flags{}, map[string]string{"BATON_PROFILE": "a b"}, nil, "BATON_PROFILE"},
		{Flags{}, nil, &File{CurrentProfile: "UPPER"}, "current_profile"},
		{Flags{Server: "ftp://x"}, nil, nil, "--server"},
		{Flags{}, map[string]string{"BATON_SERVER": "localhost:7070"}, nil, "BATON_SERVER"},
		{Flags{}, nil, &File{CurrentProfile: "p", Profiles: map[string]Profile{"p": {Server: "http://"}}}, "profile p"},
	}
	for _, tt := range tests {
		_, err := Resolve(tt.file, tt.flags, env(tt.env))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Resolve(%+v, %v) error = %v; want one naming %s", tt.flags, tt.env, err, tt.want)
		}
	}
}
