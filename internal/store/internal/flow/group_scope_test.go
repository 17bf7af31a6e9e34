package flow

import (
	"testing"
)

// TestBatchScope: a group commit runs in the scope of its transitions'
// workspaces, not of whichever caller drains it; InBatch calls (SQLite's
// claims, which span workspaces) make it system work.
func TestBatchScope(t *testing.T) {
	batch := []*fencedCall{{workspaceID: "ws_b"}, {workspaceID: "ws_a"}, {workspaceID: "ws_b"}}
	if got := batchScope(batch, nil).Setting(); got != "ws_a,ws_b" {
		t.Errorf("batchScope of fenced calls = %q, want ws_a,ws_b", got)
	}
	if got := batchScope(batch, []*txCall{{}}); !got.System() {
		t.Errorf("batchScope with an InBatch call = %q, want system", got.Setting())
	}
	if got := batchScope(nil, nil); !got.System() {
		t.Errorf("empty batch = %q", got.Setting())
	}
}
