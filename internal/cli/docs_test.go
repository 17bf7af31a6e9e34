package cli

import (
	"os"
	"path/filepath"
	"testing"
)

// TestDocsAreCurrent fails when docs/cli (the Markdown reference and man
// pages) is not what `go run ./cmd/baton-docs` writes now; with
// BATON_UPDATE_GOLDEN=1 it rewrites docs/cli.
func TestDocsAreCurrent(t *testing.T) {
	checkedIn := filepath.Join("..", "..", "docs", "cli")
	if os.Getenv("BATON_UPDATE_GOLDEN") == "1" {
		if err := os.RemoveAll(checkedIn); err != nil {
			t.Fatal(err)
		}
		if err := GenerateDocs(checkedIn); err != nil {
			t.Fatal(err)
		}
	}
	fresh := t.TempDir()
	if err := GenerateDocs(fresh); err != nil {
		t.Fatal(err)
	}
	want := map[string][]byte{}
	_ = filepath.WalkDir(fresh, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(fresh, p)
			want[rel], _ = os.ReadFile(p)
		}
		return nil
	})
	if len(want) < 20 {
		t.Fatalf("only %d files generated", len(want))
	}
	got := map[string]bool{}
	_ = filepath.WalkDir(checkedIn, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(checkedIn, p)
			got[rel] = true
			b, _ := os.ReadFile(p)
			if w, ok := want[rel]; !ok {
				t.Errorf("docs/cli/%s is left over: no such command now", rel)
			} else if string(w) != string(b) {
				t.Errorf("docs/cli/%s is out of date", rel)
			}
		}
		return nil
	})
	for rel := range want {
		if !got[rel] {
			t.Errorf("docs/cli/%s is missing", rel)
		}
	}
	if t.Failed() {
		t.Log("regenerate with: go run ./cmd/baton-docs")
	}
}
