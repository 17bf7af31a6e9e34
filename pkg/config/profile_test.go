package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func env(kv map[string]string) func(string) string {
	return func(k string) string { return kv[k] }
}

func TestPath(t *testing.T) {
	tests := []struct {
		env     map[string]string
		want    string
		wantErr bool
	}{
		{map[string]string{"BATON_CONFIG": "/etc/b.yaml", "XDG_CONFIG_HOME": "/x", "HOME": "/h"}, "/etc/b.yaml", false},
		{map[string]string{"XDG_CONFIG_HOME": "/x", "HOME": "/h"}, "/x/baton/config.yaml", false},
		{map[string]string{"XDG_CONFIG_HOME": "relative", "HOME": "/h"}, "/h/.config/baton/config.yaml", false},
		{map[string]string{"HOME": "/h"}, "/h/.config/baton/config.yaml", false},
		{map[string]string{}, "", true},
	}
	for _, tt := range tests {
		got, err := Path(env(tt.env))
		if got != tt.want || (err != nil) != tt.wantErr {
			t.Errorf("Path(%v) = %q, %v; want %q", tt.env, got, err, tt.want)
		}
	}
}

func TestLoadMissingFile(t *testing.T) {
	f, err := Load(filepath.Join(t.TempDir(), "nope", "config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if f.CurrentProfile != "" || len(f.Profiles) != 0 || f.Profiles == nil {
		t.Fatalf("got %+v, want an empty File with a non-nil map", f)
	}
}

const sampleCLIConfig = `current_profile: dev
profiles:
  dev: {server: "http://127.0.0.1:7070", api_key: "bk_dev", workspace: "ws_1"}
  prod:
    server: https://baton.example.com
    api_key: bk_prod
`

func writeFile(t *testing.T, dir, name, content string, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil { // umask-proof
		t.Fatal(err)
	}
	return p
}

func TestLoadSample(t *testing.T) {
	// Mode 0644 is broader than it should be; the file is still read.
	p := writeFile(t, t.TempDir(), "config.yaml", sampleCLIConfig, 0o644)
	f, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	want := &File{CurrentProfile: "dev", Profiles: map[string]Profile{
		"dev":  {Name: "dev", Server: "http://127.0.0.1:7070", APIKey: "bk_dev", Workspace: "ws_1"},
		"prod": {Name: "prod", Server: "https://baton.example.com", APIKey: "bk_prod"},
	}}
	if !reflect.DeepEqual(f, want) {
		t.Fatalf("Load = %+v\nwant   %+v", f, want)
	}
	if got := f.ProfileNames(); !reflect.DeepEqual(got, []string{"dev", "prod"}) {
		t.Fatalf("ProfileNames = %v", got)
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string]string{
		"not-yaml":    "profiles: [",
		"bad-name":    "profiles:\n  Dev: {server: x}\n",
		"bad-current": "current_profile: \"a b\"\n",
		"wrong-shape": "profiles: 3\n",
		"long-name":   "profiles:\n  " + strings.Repeat("a", 33) + ": {}\n",
	} {
		if _, err := Load(writeFile(t, dir, name, content, 0o600)); err == nil {
			t.Errorf("%s: Load succeeded", name)
		}
	}
	if _, err := Load(dir); err == nil { // a directory
		t.Error("Load(dir) succeeded")
	}
	f, err := Load(writeFile(t, dir, "empty", "", 0o600))
	if err != nil || len(f.Profiles) != 0 {
		t.Errorf("empty file: %+v, %v", f, err)
	}
}

func TestSaveRoundTrip(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "baton")
	p := filepath.Join(dir, "config.yaml")
	f := &File{CurrentProfile: "dev"}
	if err := f.SetProfile(Profile{Name: "dev", Server: "http://127.0.0.1:7070", APIKey: "bk_x"}); err != nil {
		t.Fatal(err)
	}
	if err := f.SetProfile(Profile{Name: "Bad Name"}); err == nil {
		t.Fatal("SetProfile accepted an invalid name")
	}
	if err := f.Save(p); err != nil {
		t.Fatal(err)
	}
	assertMode(t, p, 0o600)
	assertMode(t, dir, 0o700)
	got, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, f) {
		t.Fatalf("round trip: %+v, want %+v", got, f)
	}
	b, _ := os.ReadFile(p)
	if strings.Contains(string(b), "name:") || strings.Contains(string(b), "workspace") {
		t.Fatalf("unexpected keys written:\n%s", b)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("temporary files left behind: %v", entries)
	}
}

func TestSaveFixesMode(t *testing.T) {
	p := writeFile(t, t.TempDir(), "config.yaml", sampleCLIConfig, 0o644)
	f, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Save(p); err != nil {
		t.Fatal(err)
	}
	assertMode(t, p, 0o600)
}

func TestSaveThroughSymlink(t *testing.T) {
	dir := t.TempDir()
	target := writeFile(t, dir, "real.yaml", sampleCLIConfig, 0o600)
	link := filepath.Join(dir, "config.yaml")
	if err := os.Symlink(target, link); err != nil {
		t.Skip(err)
	}
	f := &File{CurrentProfile: "prod"}
	if err := f.Save(link); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Fatal("the symlink was replaced")
	}
	if got, _ := Load(target); got.CurrentProfile != "prod" {
		t.Fatalf("target not written: %+v", got)
	}
}

func TestSaveRejectsInvalidName(t *testing.T) {
	f := &File{Profiles: map[string]Profile{"a/b": {}}}
	if err := f.Save(filepath.Join(t.TempDir(), "c.yaml")); err == nil {
		t.Fatal("Save accepted an invalid profile name")
	}
}

func assertMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != want {
		t.Errorf("%s: mode %o, want %o", path, got, want)
	}
}

// TestProfileFieldsRoundTrip: every field of Profile (Profile.MarshalYAML
// lists them again) is saved and loaded back, strings that yaml.v3's block
// scalars would change included.
func TestProfileFieldsRoundTrip(t *testing.T) {
	var p Profile
	v := reflect.ValueOf(&p).Elem()
	for i := range v.NumField() {
		switch f := v.Field(i); f.Kind() {
		case reflect.String:
			f.SetString([]string{"\n", "\na", "\t\n", "\n\n", "x\r\ny", "plain"}[i%6] + v.Type().Field(i).Name)
		case reflect.Bool:
			f.SetBool(true)
		default:
			t.Fatalf("field %s of kind %s: teach this test", v.Type().Field(i).Name, f.Kind())
		}
	}
	p.Name = "all"
	path := filepath.Join(t.TempDir(), "config.yaml")
	f := &File{Profiles: map[string]Profile{"all": p}}
	if err := f.Save(path); err != nil {
		t.Fatal(err)
	}
	back, err := Load(path)
	if err != nil || !reflect.DeepEqual(back.Profiles["all"], p) {
		saved, _ := os.ReadFile(path)
		t.Fatalf("Load(Save) = %+v, %v; want %+v (saved %q)", back.Profiles["all"], err, p, saved)
	}
}
