package deploy

import (
	"os"
	"regexp"
	"testing"
)

// TestGoToolchainPinned: the release builds (goreleaser, the Dockerfile's
// builder) use the Go patch release that go.mod names, the one govulncheck
// in CI found clean, so a binary never ships with a toolchain that has
// known vulnerabilities fixed in a later patch.
func TestGoToolchainPinned(t *testing.T) {
	read := func(path string) string {
		t.Helper()
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	m := regexp.MustCompile(`(?m)^toolchain go(\d+\.\d+\.\d+)$`).FindStringSubmatch(read("../go.mod"))
	if m == nil {
		t.Fatal("go.mod names no toolchain go1.X.Y")
	}
	want := m[1]
	if d := regexp.MustCompile(`(?m)^ARG GO_VERSION=(\S+)$`).FindStringSubmatch(read("Dockerfile")); d == nil || d[1] != want {
		t.Errorf("Dockerfile ARG GO_VERSION = %v, want %s", d, want)
	}
	if g := regexp.MustCompile(`(?m)^\s+- GOTOOLCHAIN=go(\S+)$`).FindStringSubmatch(read("../goreleaser.yaml")); g == nil || g[1] != want {
		t.Errorf("goreleaser.yaml GOTOOLCHAIN = %v, want go%s", g, want)
	}
	if b := regexp.MustCompile(`(?m)^toolchain go(\S+)$`).FindStringSubmatch(read("../bench/go.mod")); b == nil || b[1] != want {
		t.Errorf("bench/go.mod toolchain = %v, want go%s", b, want)
	}
}
