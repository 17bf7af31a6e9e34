package devcmd

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/genericcorp/baton/internal/cli/cmdutil"
	"github.com/genericcorp/baton/internal/iostreams"
	"github.com/genericcorp/baton/pkg/config"
)

// startDev runs `baton dev` until the dev profile is written, and returns
// the profile file (once its server differs from prevServer: each run
// listens on a fresh port) and a stop function that waits for a clean exit.
func startDev(t *testing.T, dataDir, cfgHome, prevServer string) (*config.File, func()) {
	t.Helper()
	ios, _, _, _ := iostreams.Test()
	// The server's log and dev's hints write to stderr from two goroutines.
	ios.ErrOut = &syncWriter{}
	// BATON_CONFIG is the CLI's profile file; dev must not read it as a
	// server config file (it would refuse the unknown profile keys).
	env := map[string]string{"BATON_CONFIG": filepath.Join(cfgHome, "profiles.yaml")}
	f := cmdutil.New(ios, func(k string) string { return env[k] })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, f, nil, dataDir, "127.0.0.1:0") }()

	path, _ := config.Path(func(k string) string { return env[k] })
	deadline := time.Now().Add(20 * time.Second)
	for {
		select {
		case err := <-done:
			cancel()
			t.Fatalf("dev exited early: %v", err)
		default:
		}
		file, err := config.Load(path)
		if err == nil && file.Profiles[ProfileDev].APIKey != "" && file.Profiles[ProfileDev].Server != prevServer {
			// Profiles are written after provisioning, so the server is up.
			return file, func() {
				cancel()
				if err := <-done; err != nil {
					t.Errorf("dev exit: %v", err)
				}
			}
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatal("dev did not write its profile in time")
		}
		time.Sleep(20 * time.Millisecond)
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
	stop()

	file2, stop2 := startDev(t, dataDir, cfgHome, file.Profiles[ProfileDev].Server)
	defer stop2()
	if second := check(file2); second != first {
		t.Fatalf("restart made a new workspace: %s vs %s", second, first)
	}
	if file2.Profiles[ProfileDev].APIKey != file.Profiles[ProfileDev].APIKey {
		t.Fatal("restart replaced a working dev key")
	}
}

// syncWriter discards writes, safely from many goroutines.
type syncWriter struct{ mu sync.Mutex }

func (w *syncWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(b), nil
}
