package devcmd

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/genericcorp/baton/internal/cli/cmdutil"
	"github.com/genericcorp/baton/internal/iostreams"
	"github.com/genericcorp/baton/internal/testutil"
	"github.com/genericcorp/baton/pkg/config"
)

// startDev runs `baton dev` until the dev profile is written, and returns
// the profile file (once its server differs from prevServer: each run
// listens on a fresh port) and a stop function that waits for a clean exit.
func startDev(t *testing.T, dataDir, cfgHome, prevServer string) (*config.File, func() string) {
	t.Helper()
	ios, _, _, _ := iostreams.Test()
	// The server's log and dev's hints write to stderr from two goroutines.
	errOut := &testutil.SyncBuffer{}
	ios.ErrOut = errOut
	// BATON_CONFIG is the CLI's profile file; dev must not read it as a
	// server config file (it would refuse the unknown profile keys).
	env := map[string]string{"BATON_CONFIG": filepath.Join(cfgHome, "profiles.yaml")}
	f := cmdutil.New(ios, func(k string) string { return env[k] })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, f, nil, dataDir, "127.0.0.1:0", false) }()

	path, _ := config.Path(func(k string) string { return env[k] })
	var file *config.File
	t.Cleanup(cancel)
	// Profiles are written after provisioning, so the server is up.
	testutil.Eventually(t, 20*time.Second, "dev writes its profile", func() bool {
		select {
		case err := <-done:
			t.Fatalf("dev exited early: %v", err)
		default:
		}
		var err error
		file, err = config.Load(path)
		return err == nil && file.Profiles[ProfileDev].APIKey != "" && file.Profiles[ProfileDev].Server != prevServer
	})
	return file, func() string {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("dev exit: %v", err)
		}
		return errOut.String()
	}
}

func TestDevProvisionsIdempotently(t *testing.T) {
	dataDir, cfgHome := t.TempDir(), t.TempDir()
	file, stop := startDev(t, dataDir, cfgHome, "")
	if file.CurrentProfile != ProfileDev || file.Profiles[ProfileDevAdmin].APIKey == "" {
		t.Fatalf("profiles = %+v", file)
	}
	ios, _, _, _ := iostreams.Test()
	f := cmdutil.New(ios, func(string) string { return "" })
	check := func(file *config.File) string {
		c, err := f.ClientFor(file.Profiles[ProfileDev].Server, file.Profiles[ProfileDev].APIKey, "")
		if err != nil {
			t.Fatal(err)
		}
		me, err := c.Me(context.Background())
		if err != nil || me.Workspace == nil || me.Workspace.Name != "dev" || me.Workspace.Tier != "pro" {
			t.Fatalf("dev key: %+v %v", me, err)
		}
		admin, _ := f.ClientFor(file.Profiles[ProfileDevAdmin].Server, file.Profiles[ProfileDevAdmin].APIKey, "")
		n := 0
		for _, err := range admin.AllWorkspaces(context.Background(), 100) {
			if err != nil {
				t.Fatal(err)
			}
			n++
		}
		if n != 1 {
			t.Fatalf("%d workspaces, want exactly 1", n)
		}
		return me.Workspace.ID
	}
	first := check(file)
	log := stop()
	// Requests are not logged without --verbose (issue 16 row 9); stderr
	// is not a terminal here, so the log is JSON (the "auto" default).
	if strings.Contains(log, `"msg":"request"`) || !strings.Contains(log, `"level":"INFO","msg":"baton server listening"`) {
		t.Errorf("dev logs requests without --verbose, or logs no JSON:\n%s", log)
	}

	file2, stop2 := startDev(t, dataDir, cfgHome, file.Profiles[ProfileDev].Server)
	if second := check(file2); second != first {
		t.Fatalf("restart made a new workspace: %s vs %s", second, first)
	}
	if file2.Profiles[ProfileDev].APIKey != file.Profiles[ProfileDev].APIKey {
		t.Fatal("restart replaced a working dev key")
	}
	if log := stop2(); strings.Contains(log, "warning:") {
		t.Errorf("restart with a working key warns:\n%s", log)
	}

	// The saved credentials lost: a new key, said so, and the profile's
	// replacement said too (issue 16 row 8).
	if err := os.Remove(filepath.Join(dataDir, credsFile)); err != nil {
		t.Fatal(err)
	}
	file3, stop3 := startDev(t, dataDir, cfgHome, file2.Profiles[ProfileDev].Server)
	log = stop3()
	if file3.Profiles[ProfileDev].APIKey == file2.Profiles[ProfileDev].APIKey {
		t.Fatal("no new key without the saved credentials")
	}
	for _, want := range []string{`warning: no saved key for workspace "dev"`, `warning: profile "dev" held another key`} {
		if !strings.Contains(log, want) {
			t.Errorf("stderr lacks %q:\n%s", want, log)
		}
	}
}
