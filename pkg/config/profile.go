// Package config reads and writes baton's configuration: the CLI's profiles
// file and the server's settings, each layered flag > environment > config
// file > default. It is the only package that imports viper. The CLI's
// settings (Resolve) are read from the process environment by viper itself
// unless the caller injects an environment; everything else takes a getenv
// function.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// Profile is one set of CLI credentials: a server, an API key and, for
// admin keys, the workspace to act on. Name is the profile's key in the file.
type Profile struct {
	Name      string `yaml:"-"`
	Server    string `yaml:"server,omitempty"`
	APIKey    string `yaml:"api_key,omitempty"`
	Workspace string `yaml:"workspace,omitempty"`
	// The other global settings (see Settings), each optional.
	Output   string `yaml:"output,omitempty"`
	NoColor  bool   `yaml:"no_color,omitempty"`
	Quiet    bool   `yaml:"quiet,omitempty"`
	JQ       string `yaml:"jq,omitempty"`
	Template string `yaml:"template,omitempty"`
	Debug    bool   `yaml:"debug,omitempty"`
	Timeout  string `yaml:"timeout,omitempty"` // a duration: 30s, 2m
}

// MarshalYAML writes p with its strings as quoted: yaml.v3 writes a string
// holding a line break as a block scalar, and one that starts with a line
// break or holds a tab then reads back as another string or not at all
// ("\n" as "", found by FuzzLoadProfiles), so Save wrote a file Load read
// differently. Every field of Profile but Name is here (TestProfileFieldsRoundTrip).
func (p Profile) MarshalYAML() (any, error) {
	return struct {
		Server    quoted `yaml:"server,omitempty"`
		APIKey    quoted `yaml:"api_key,omitempty"`
		Workspace quoted `yaml:"workspace,omitempty"`
		Output    quoted `yaml:"output,omitempty"`
		NoColor   bool   `yaml:"no_color,omitempty"`
		Quiet     bool   `yaml:"quiet,omitempty"`
		JQ        quoted `yaml:"jq,omitempty"`
		Template  quoted `yaml:"template,omitempty"`
		Debug     bool   `yaml:"debug,omitempty"`
		Timeout   quoted `yaml:"timeout,omitempty"`
	}{quoted(p.Server), quoted(p.APIKey), quoted(p.Workspace), quoted(p.Output), p.NoColor, p.Quiet,
		quoted(p.JQ), quoted(p.Template), p.Debug, quoted(p.Timeout)}, nil
}

// quoted is a string written double-quoted when it holds a line break or
// a tab (see Profile.MarshalYAML), and as yaml.v3 chooses otherwise.
type quoted string

func (q quoted) MarshalYAML() (any, error) {
	n := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: string(q)}
	if strings.ContainsAny(string(q), "\n\r\t\u0085\u2028\u2029") {
		n.Style = yaml.DoubleQuotedStyle
	}
	return n, nil
}

// settings are the profile's values that are set, by setting key.
func (p Profile) settings() map[string]any {
	m := map[string]any{}
	for k, v := range map[string]string{"server": p.Server, "api_key": p.APIKey, "workspace": p.Workspace,
		"output": p.Output, "jq": p.JQ, "template": p.Template, "timeout": p.Timeout} {
		if v != "" {
			m[k] = v
		}
	}
	for k, v := range map[string]bool{"no_color": p.NoColor, "quiet": p.Quiet, "debug": p.Debug} {
		if v {
			m[k] = v
		}
	}
	return m
}

// File is the CLI's config file.
type File struct {
	CurrentProfile string             `yaml:"current_profile,omitempty"`
	Profiles       map[string]Profile `yaml:"profiles,omitempty"`
}

var profileName = regexp.MustCompile(`^[a-z0-9_-]{1,32}$`)

// ValidateProfileName returns an error unless name is 1 to 32 characters
// of a-z, 0-9, '_' and '-'.
func ValidateProfileName(name string) error {
	if !profileName.MatchString(name) {
		return fmt.Errorf("invalid profile name %q: use 1 to 32 characters a-z, 0-9, _ and -", name)
	}
	return nil
}

// Path returns where the CLI's config file is: $BATON_CONFIG, else
// $XDG_CONFIG_HOME/baton/config.yaml (an XDG_CONFIG_HOME that is not an
// absolute path is ignored, as the XDG spec says), else
// $HOME/.config/baton/config.yaml. It returns an error when none of the
// three variables is set.
func Path(getenv func(string) string) (string, error) {
	if p := getenv(EnvConfig); p != "" {
		return p, nil
	}
	if x := getenv("XDG_CONFIG_HOME"); filepath.IsAbs(x) {
		return filepath.Join(x, "baton", "config.yaml"), nil
	}
	if h := getenv("HOME"); h != "" {
		return filepath.Join(h, ".config", "baton", "config.yaml"), nil
	}
	return "", errors.New("cannot find the config file: set BATON_CONFIG, XDG_CONFIG_HOME or HOME")
}

// Load reads the config file at path. A missing file is an empty File, not
// an error; a file readable by others is still read (Save narrows its
// mode). It returns an error when the file cannot be read, is not valid
// YAML of this shape, or names a profile invalidly.
func Load(path string) (*File, error) {
	f := &File{Profiles: map[string]Profile{}}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return f, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(f); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("parse config %s: %w", path, err)
	}
	if f.Profiles == nil {
		f.Profiles = map[string]Profile{}
	}
	for name, p := range f.Profiles {
		if err := ValidateProfileName(name); err != nil {
			return nil, fmt.Errorf("config %s: %w", path, err)
		}
		p.Name = name
		f.Profiles[name] = p
	}
	if f.CurrentProfile != "" {
		if err := ValidateProfileName(f.CurrentProfile); err != nil {
			return nil, fmt.Errorf("config %s: current_profile: %w", path, err)
		}
	}
	return f, nil
}

// Save writes f to path with mode 0600, atomically: to a temporary file in
// the same directory, then renamed over path (through a symlink at path, to
// its target). Missing directories are created with mode 0700. It returns an
// error when a profile name is invalid or the file cannot be written.
func (f *File) Save(path string) error {
	for name := range f.Profiles {
		if err := ValidateProfileName(name); err != nil {
			return fmt.Errorf("save config: %w", err)
		}
	}
	b, err := yaml.Marshal(f)
	if err != nil {
		return fmt.Errorf("save config: %w", err)
	}
	if target, err := filepath.EvalSymlinks(path); err == nil {
		path = target
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("save config: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".config-*.yaml")
	if err != nil {
		return fmt.Errorf("save config: %w", err)
	}
	defer os.Remove(tmp.Name()) // fails harmlessly once renamed
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("save config: %w", err)
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return fmt.Errorf("save config: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("save config: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("save config: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("save config: %w", err)
	}
	return nil
}

// SetProfile adds p to f, or replaces the profile of the same name. It
// returns an error when p.Name is invalid.
func (f *File) SetProfile(p Profile) error {
	if err := ValidateProfileName(p.Name); err != nil {
		return err
	}
	if f.Profiles == nil {
		f.Profiles = map[string]Profile{}
	}
	f.Profiles[p.Name] = p
	return nil
}

// ProfileNames returns the names of f's profiles, sorted.
func (f *File) ProfileNames() []string {
	names := make([]string, 0, len(f.Profiles))
	for n := range f.Profiles {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
