package auth

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/genericcorp/baton/internal/store"
	"github.com/genericcorp/baton/internal/testutil"
)

// fakeKeys is an auth Store in memory that counts reads and writes, and
// can hold a read until released.
type fakeKeys struct {
	mu      sync.Mutex
	keys    map[string]store.Key
	ws      map[string]store.Workspace
	reads   int
	touched map[string]time.Time
	touches int
	failing error
	hold    chan struct{} // when set, the next read waits for it to close
	held    chan struct{} // closed when that read waits
}

func newFakeKeys(keys ...store.Key) *fakeKeys {
	f := &fakeKeys{keys: map[string]store.Key{}, ws: map[string]store.Workspace{"ws_1": {ID: "ws_1", Tier: "free"}},
		touched: map[string]time.Time{}}
	for _, k := range keys {
		f.keys[k.ID] = k
	}
	return f
}

func (f *fakeKeys) read() {
	f.mu.Lock()
	f.reads++
	hold, held := f.hold, f.held
	f.hold, f.held = nil, nil // one read waits
	f.mu.Unlock()
	if hold != nil {
		close(held)
		<-hold
	}
}

func (f *fakeKeys) KeyByHash(_ context.Context, hash []byte, now time.Time) (store.Key, error) {
	f.read()
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, k := range f.keys {
		if string(k.Hash) == string(hash) || (string(k.PreviousHash) == string(hash) && now.Before(*k.PreviousExpiresAt)) {
			return k, nil
		}
	}
	return store.Key{}, store.ErrNotFound
}

func (f *fakeKeys) KeyByID(_ context.Context, id string) (store.Key, error) {
	f.read()
	f.mu.Lock()
	defer f.mu.Unlock()
	if k, ok := f.keys[id]; ok {
		return k, nil
	}
	return store.Key{}, store.ErrNotFound
}

func (f *fakeKeys) GetWorkspace(_ context.Context, id string) (store.Workspace, error) {
	f.read()
	f.mu.Lock()
	defer f.mu.Unlock()
	if ws, ok := f.ws[id]; ok {
		return ws, nil
	}
	return store.Workspace{}, store.ErrNotFound
}

func (f *fakeKeys) TouchKey(_ context.Context, id string, at time.Time, _ time.Duration) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failing != nil {
		return f.failing
	}
	f.touches++
	f.touched[id] = at
	return nil
}

func (f *fakeKeys) readCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.reads
}

func newTestCache(f *fakeKeys) (*Cache, *testutil.Clock) {
	clk := testutil.NewClock(time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC))
	return NewCache(CacheConfig{Store: f, Now: clk.Now, Log: slog.New(slog.DiscardHandler)}), clk
}

func TestCacheServesFromMemoryUntilTheTTL(t *testing.T) {
	k := store.Key{ID: "key_1", WorkspaceID: "ws_1", Hash: []byte("h1")}
	f := newFakeKeys(k)
	c, clk := newTestCache(f)
	ctx := context.Background()
	for range 10 {
		if got, err := c.KeyByHash(ctx, k.Hash, clk.Now()); err != nil || got.ID != k.ID {
			t.Fatalf("KeyByHash = %v, %v", got, err)
		}
		if got, err := c.KeyByID(ctx, k.ID); err != nil || got.ID != k.ID {
			t.Fatalf("KeyByID = %v, %v", got, err)
		}
		if _, err := c.Workspace(ctx, "ws_1"); err != nil {
			t.Fatal(err)
		}
	}
	if n := f.readCount(); n != 2 {
		t.Fatalf("%d store reads for 30 lookups of one key and workspace, want 2", n)
	}
	clk.Advance(DefaultCacheTTL - time.Millisecond)
	c.KeyByID(ctx, k.ID)
	if n := f.readCount(); n != 2 {
		t.Fatalf("a read before the TTL ended (%d)", n)
	}
	clk.Advance(time.Millisecond)
	c.KeyByID(ctx, k.ID)
	c.Workspace(ctx, "ws_1")
	if n := f.readCount(); n != 4 {
		t.Fatalf("%d reads after the TTL, want 4 (the key and the workspace again)", n)
	}
	if _, err := c.KeyByHash(ctx, []byte("unknown"), clk.Now()); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown hash: %v", err)
	}
	if c.Known([]byte("unknown")) || !c.Known(k.Hash) {
		t.Fatal("Known is wrong")
	}
}

// TestCachePreviousHashGrace: a rotated key's previous hash is served from
// memory while its grace lasts and refused after, without a read.
func TestCachePreviousHashGrace(t *testing.T) {
	f := newFakeKeys()
	c, clk := newTestCache(f)
	until := clk.Now().Add(2 * time.Second)
	f.keys["key_1"] = store.Key{ID: "key_1", WorkspaceID: "ws_1", Hash: []byte("new"), PreviousHash: []byte("old"), PreviousExpiresAt: &until}
	ctx := context.Background()
	if _, err := c.KeyByHash(ctx, []byte("old"), clk.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := c.KeyByHash(ctx, []byte("new"), clk.Now()); err != nil {
		t.Fatal(err)
	}
	clk.Advance(2 * time.Second)
	if _, err := c.KeyByHash(ctx, []byte("old"), clk.Now()); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("previous hash after its grace: %v", err)
	}
	if n := f.readCount(); n != 1 {
		t.Fatalf("%d reads, want 1", n)
	}
}

// TestCacheChangesDropEntries: KeyChanged, WorkspaceChanged, the Bus's
// messages and Reset make the next lookup read the store; the hashes stay
// known.
func TestCacheChangesDropEntries(t *testing.T) {
	k := store.Key{ID: "key_1", WorkspaceID: "ws_1", Hash: []byte("h1")}
	f := newFakeKeys(k)
	c, clk := newTestCache(f)
	ctx := context.Background()
	warm := func() {
		c.KeyByHash(ctx, k.Hash, clk.Now())
		c.Workspace(ctx, "ws_1")
	}
	for _, change := range []struct {
		name  string
		do    func()
		reads int // reads of the next warm
	}{
		{"KeyChanged", func() { c.KeyChanged(ctx, k.ID) }, 1},
		{"WorkspaceChanged", func() { c.WorkspaceChanged(ctx, "ws_1") }, 1},
		{"key message", func() { c.Deliver("key:" + k.ID) }, 1},
		{"workspace message", func() { c.Deliver("workspace:ws_1") }, 1},
		{"unknown message", func() { c.Deliver("something new") }, 2},
		{"Reset", c.Reset, 2},
	} {
		warm()
		before := f.readCount()
		change.do()
		warm()
		if n := f.readCount() - before; n != change.reads {
			t.Errorf("%s: %d reads after it, want %d", change.name, n, change.reads)
		}
		if !c.Known(k.Hash) {
			t.Errorf("%s: the key's hash is no longer known", change.name)
		}
	}
}

// TestCacheLoadRacingAChangeIsNotKept: a read that began before a change
// may return the old row; it answers its caller but is not cached.
func TestCacheLoadRacingAChangeIsNotKept(t *testing.T) {
	k := store.Key{ID: "key_1", WorkspaceID: "ws_1", Hash: []byte("h1")}
	f := newFakeKeys(k)
	c, clk := newTestCache(f)
	ctx := context.Background()
	hold, held := make(chan struct{}), make(chan struct{})
	f.hold, f.held = hold, held
	done := make(chan error)
	go func() { _, err := c.KeyByHash(ctx, k.Hash, clk.Now()); done <- err }()
	<-held
	c.KeyChanged(ctx, k.ID) // revoked meanwhile
	close(hold)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	before := f.readCount()
	c.KeyByHash(ctx, k.Hash, clk.Now())
	if f.readCount() == before {
		t.Fatal("the load that raced with the change was cached")
	}
}

// TestCacheTouchesAreBatched: any number of uses of a key make one write
// per flush; a failed write is kept for the next.
func TestCacheTouchesAreBatched(t *testing.T) {
	f := newFakeKeys()
	c, clk := newTestCache(f)
	ctx := context.Background()
	for range 100 {
		clk.Advance(time.Second)
		c.Touch("key_1", clk.Now())
		c.Touch("key_2", clk.Now().Add(-time.Hour))
	}
	f.failing = errors.New("store down")
	if err := c.FlushTouches(ctx); err == nil {
		t.Fatal("a failed write was not reported")
	}
	f.failing = nil
	if err := c.FlushTouches(ctx); err != nil {
		t.Fatal(err)
	}
	if f.touches != 2 || !f.touched["key_1"].Equal(clk.Now()) {
		t.Fatalf("%d writes, key_1 at %v; want 2 writes, key_1 at its last use %v", f.touches, f.touched["key_1"], clk.Now())
	}
	if err := c.FlushTouches(ctx); err != nil || f.touches != 2 {
		t.Fatalf("an empty flush wrote (%d) or failed (%v)", f.touches, err)
	}
}

// TestCacheForgetsDeletedKeys: once the store says a key is gone, its hash
// is no longer vouched for, and its id is refused from memory for a TTL
// (a session of a deleted key costs one read per TTL, not one a request).
func TestCacheForgetsDeletedKeys(t *testing.T) {
	k := store.Key{ID: "key_1", WorkspaceID: "ws_1", Hash: []byte("h1")}
	f := newFakeKeys(k)
	c, clk := newTestCache(f)
	ctx := context.Background()
	c.KeyByHash(ctx, k.Hash, clk.Now())
	f.mu.Lock()
	delete(f.keys, k.ID)
	f.mu.Unlock()
	clk.Advance(DefaultCacheTTL)
	if _, err := c.KeyByHash(ctx, k.Hash, clk.Now()); !errors.Is(err, store.ErrNotFound) || c.Known(k.Hash) {
		t.Fatalf("deleted key by hash: %v, known %v", err, c.Known(k.Hash))
	}
	for range 3 {
		if _, err := c.KeyByID(ctx, k.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("deleted key by id: %v", err)
		}
	}
	if n := f.readCount(); n != 3 {
		t.Fatalf("%d reads, want 3 (load, by hash, one by id)", n)
	}
}
