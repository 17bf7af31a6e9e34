package auth

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"
	"golang.org/x/sync/singleflight"

	"github.com/genericcorp/baton/internal/store"
)

// Store is what the Cache reads through to (a store.Store has it all).
type Store interface {
	KeyByHash(ctx context.Context, hash []byte, now time.Time) (store.Key, error)
	KeyByID(ctx context.Context, id string) (store.Key, error)
	GetWorkspace(ctx context.Context, id string) (store.Workspace, error)
	TouchKey(ctx context.Context, id string, at time.Time, minGap time.Duration) error
}

// Bus carries invalidations between replicas: PostgreSQL's LISTEN/NOTIFY
// on channel baton_auth (internal/store/postgres). Nil on a single
// process (SQLite), where every change is made by the process itself.
type Bus interface {
	// PublishAuth tells every replica (this one too) that msg changed.
	PublishAuth(ctx context.Context, msg string) error
	// ListenAuth delivers every message published by any replica until
	// ctx ends, reconnecting by itself; connected is called each time the
	// subscription is (re)established, since messages may have been
	// missed while it was down.
	ListenAuth(ctx context.Context, log *slog.Logger, deliver func(msg string), connected func())
}

// Cache defaults.
const (
	// DefaultCacheTTL bounds how long an entry is trusted without hearing
	// from the Bus: the backstop for a lost notification, and the bound
	// of "within 5 s on every replica".
	DefaultCacheTTL = 5 * time.Second
	// DefaultTouchEvery is how often last-used times are written: each
	// key at most once per interval.
	DefaultTouchEvery = time.Minute
	defaultMaxKeys    = 100_000
	publishTimeout    = 2 * time.Second
)

// Cache objects: the object label of its OnLookup hook.
const (
	ObjectKey       = "key"
	ObjectWorkspace = "workspace"
)

// CacheConfig configures a Cache. Zero values take the defaults.
type CacheConfig struct {
	Store Store
	Bus   Bus // nil: this process makes every change
	// TTL is how long a loaded key or workspace is used without reading
	// the store again (DefaultCacheTTL).
	TTL time.Duration
	// TouchEvery is how often Run writes last-used times (DefaultTouchEvery).
	TouchEvery time.Duration
	// MaxKeys bounds the keys and workspaces kept (100 000 each).
	MaxKeys int
	Now     func() time.Time
	Log     *slog.Logger
	// OnLookup, when set, is told of every lookup: hit is false when the
	// store was read (metrics: baton_auth_cache_total).
	OnLookup func(object string, hit bool)
}

// Cache holds API keys (by hash and by id) and workspaces for
// authentication, so that a warm request reads nothing from the store.
//
// Freshness: an entry is used for at most TTL after it was loaded. A
// change made through this process (KeyChanged, WorkspaceChanged) drops
// the entry at once, and is published on the Bus, whose listener drops it
// on every other replica (PostgreSQL NOTIFY: milliseconds). TTL is the
// backstop for a notification that is lost — a publish that fails after
// the change committed, or a listener that was reconnecting (which also
// drops everything when it reconnects) — so every replica sees a change
// within TTL even then.
//
// The Cache also remembers, beyond TTL, which key hashes belonged to a
// real key (Known): the failed-authentication lockout lets those through
// from an address that is locked out for guessing.
type Cache struct {
	cfg    CacheConfig
	flight singleflight.Group

	mu         sync.Mutex
	keys       *simplelru.LRU[string, keyEntry] // key id → key
	hashes     *simplelru.LRU[string, string]   // hash → key id (the known set)
	workspaces *simplelru.LRU[string, wsEntry]  // workspace id → workspace
	epoch      uint64                           // bumped by every invalidation
	touches    map[string]time.Time             // key id → last use not written yet
	listening  chan struct{}                    // closed once the Bus is subscribed
	listenOnce sync.Once
}

type keyEntry struct {
	key    store.Key
	loaded time.Time
	gone   bool // no such key (deleted): a session naming it is refused from memory
}

type wsEntry struct {
	ws     store.Workspace
	loaded time.Time
}

// NewCache returns a Cache over cfg.Store. Run it to hear other replicas'
// changes and to write last-used times.
func NewCache(cfg CacheConfig) *Cache {
	if cfg.TTL <= 0 {
		cfg.TTL = DefaultCacheTTL
	}
	if cfg.TouchEvery <= 0 {
		cfg.TouchEvery = DefaultTouchEvery
	}
	if cfg.MaxKeys <= 0 {
		cfg.MaxKeys = defaultMaxKeys
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.OnLookup == nil {
		cfg.OnLookup = func(string, bool) {}
	}
	// simplelru.NewLRU fails only for a size below 1.
	keys, _ := simplelru.NewLRU[string, keyEntry](cfg.MaxKeys, nil)
	hashes, _ := simplelru.NewLRU[string, string](2*cfg.MaxKeys, nil)
	workspaces, _ := simplelru.NewLRU[string, wsEntry](cfg.MaxKeys, nil)
	return &Cache{cfg: cfg, keys: keys, hashes: hashes, workspaces: workspaces,
		touches: map[string]time.Time{}, listening: make(chan struct{})}
}

// fresh reports whether something loaded at loaded may still be used.
func (c *Cache) fresh(loaded, now time.Time) bool { return now.Sub(loaded) < c.cfg.TTL }

// KeyByHash is store.KeyByHash through the cache: the key whose current
// hash is hash, or whose previous hash is hash and within its grace at
// now. Like the store it does not check revocation or expiry. Errors:
// store.ErrNotFound, or the store's.
func (c *Cache) KeyByHash(ctx context.Context, hash []byte, now time.Time) (store.Key, error) {
	c.mu.Lock()
	if id, ok := c.hashes.Get(string(hash)); ok {
		if e, ok := c.keys.Get(id); ok && c.fresh(e.loaded, c.cfg.Now()) {
			switch {
			case bytes.Equal(e.key.Hash, hash):
				c.mu.Unlock()
				c.cfg.OnLookup(ObjectKey, true)
				return e.key, nil
			case bytes.Equal(e.key.PreviousHash, hash):
				c.mu.Unlock()
				c.cfg.OnLookup(ObjectKey, true)
				if e.key.PreviousExpiresAt == nil || !now.Before(*e.key.PreviousExpiresAt) {
					return store.Key{}, fmt.Errorf("key by hash: grace ended: %w", store.ErrNotFound)
				}
				return e.key, nil
			}
		}
	}
	c.mu.Unlock()
	k, err := readThrough(c, ObjectKey, "h:"+string(hash),
		func() (store.Key, error) { return c.cfg.Store.KeyByHash(ctx, hash, now) },
		func(k store.Key) { c.addKey(k, hash) })
	if errors.Is(err, store.ErrNotFound) {
		// A key that was deleted (or a secret rotated out): no longer a
		// credential to vouch for.
		c.mu.Lock()
		c.hashes.Remove(string(hash))
		c.mu.Unlock()
	}
	return k, err
}

// KeyByID is store.KeyByID through the cache (sessions name their key by
// id). Errors: store.ErrNotFound, or the store's.
func (c *Cache) KeyByID(ctx context.Context, id string) (store.Key, error) {
	c.mu.Lock()
	if e, ok := c.keys.Get(id); ok && c.fresh(e.loaded, c.cfg.Now()) {
		c.mu.Unlock()
		c.cfg.OnLookup(ObjectKey, true)
		if e.gone {
			return store.Key{}, fmt.Errorf("key %s: %w", id, store.ErrNotFound)
		}
		return e.key, nil
	}
	c.mu.Unlock()
	k, err := readThrough(c, ObjectKey, "i:"+id,
		func() (store.Key, error) { return c.cfg.Store.KeyByID(ctx, id) },
		func(k store.Key) { c.addKey(k, nil) })
	if errors.Is(err, store.ErrNotFound) {
		// Key ids are never reused: remember the absence for a TTL, so a
		// session of a deleted key (its signature is good, so the lockout
		// lets it through) costs one read per TTL, not one per request.
		c.mu.Lock()
		c.keys.Add(id, keyEntry{key: store.Key{ID: id}, loaded: c.cfg.Now(), gone: true})
		c.mu.Unlock()
	}
	return k, err
}

// Workspace is store.GetWorkspace through the cache. Errors:
// store.ErrNotFound, or the store's.
func (c *Cache) Workspace(ctx context.Context, id string) (store.Workspace, error) {
	c.mu.Lock()
	if e, ok := c.workspaces.Get(id); ok && c.fresh(e.loaded, c.cfg.Now()) {
		c.mu.Unlock()
		c.cfg.OnLookup(ObjectWorkspace, true)
		return e.ws, nil
	}
	c.mu.Unlock()
	return readThrough(c, ObjectWorkspace, "w:"+id,
		func() (store.Workspace, error) { return c.cfg.Store.GetWorkspace(ctx, id) },
		func(ws store.Workspace) { c.workspaces.Add(id, wsEntry{ws: ws, loaded: c.cfg.Now()}) })
}

// Known reports whether hash is the current or a previous hash of a key
// this cache has loaded (however long ago, while it is remembered): a
// credential that was real, not a guess. It never reads the store.
func (c *Cache) Known(hash []byte) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.hashes.Contains(string(hash))
}

// readThrough answers a miss: one store read (by read) for all concurrent
// callers of flightKey, whose result add caches (with c.mu held) unless
// something was invalidated meanwhile — a read that raced with a change
// may hold the old row, which must not outlive the invalidation.
func readThrough[V any](c *Cache, object, flightKey string, read func() (V, error), add func(V)) (V, error) {
	c.cfg.OnLookup(object, false)
	v, err, _ := c.flight.Do(flightKey, func() (any, error) {
		c.mu.Lock()
		epoch := c.epoch
		c.mu.Unlock()
		v, err := read()
		if err == nil {
			c.mu.Lock()
			if c.epoch == epoch {
				add(v)
			}
			c.mu.Unlock()
		}
		return v, err
	})
	if err != nil {
		var zero V
		return zero, err
	}
	return v.(V), nil
}

// addKey caches k and the hash it was found by; c.mu held.
func (c *Cache) addKey(k store.Key, hash []byte) {
	c.keys.Add(k.ID, keyEntry{key: k, loaded: c.cfg.Now()})
	for _, h := range [][]byte{hash, k.Hash, k.PreviousHash} {
		if len(h) > 0 {
			c.hashes.Add(string(h), k.ID)
		}
	}
}

// Invalidation messages (on the Bus: "key:ID", "workspace:ID").
const (
	msgKey       = "key:"
	msgWorkspace = "workspace:"
)

// KeyChanged drops key id (revoked, rotated, its scopes or expiry
// changed) here at once and tells the other replicas. Call it after the
// change is committed. A failed publish is logged: the others then see the
// change within TTL.
func (c *Cache) KeyChanged(ctx context.Context, id string) {
	c.forgetKey(id)
	c.publish(ctx, msgKey+id)
}

// WorkspaceChanged drops workspace id (tier, overrides, status changed,
// or deleted) here at once and tells the other replicas.
func (c *Cache) WorkspaceChanged(ctx context.Context, id string) {
	c.forgetWorkspace(id)
	c.publish(ctx, msgWorkspace+id)
}

func (c *Cache) publish(ctx context.Context, msg string) {
	if c.cfg.Bus == nil {
		return
	}
	// The change is committed: tell the others even if the caller has gone,
	// but do not hold its request up for long.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), publishTimeout)
	defer cancel()
	if err := c.cfg.Bus.PublishAuth(ctx, msg); err != nil {
		c.cfg.Log.Warn("auth cache: could not tell other replicas; they see the change within the cache TTL",
			"change", msg, "ttl", c.cfg.TTL.String(), "err", err)
	}
}

func (c *Cache) forgetKey(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.epoch++
	c.keys.Remove(id) // its hashes stay known
}

// forgetWorkspace drops workspace id. Its keys may stay: every request
// resolves the workspace too, so a deleted workspace's keys are refused
// from its lookup (O(1) here rather than a walk of every key).
func (c *Cache) forgetWorkspace(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.epoch++
	c.workspaces.Remove(id)
}

// Reset drops every cached key and workspace (the known hashes stay).
func (c *Cache) Reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.epoch++
	c.keys.Purge()
	c.workspaces.Purge()
}

// Deliver applies a message from the Bus.
func (c *Cache) Deliver(msg string) {
	switch {
	case len(msg) > len(msgKey) && msg[:len(msgKey)] == msgKey:
		c.forgetKey(msg[len(msgKey):])
	case len(msg) > len(msgWorkspace) && msg[:len(msgWorkspace)] == msgWorkspace:
		c.forgetWorkspace(msg[len(msgWorkspace):])
	default:
		c.Reset() // a message this version does not know: be safe
	}
}

// Listening is closed once the Bus subscription is up (never without a
// Bus): from then on other replicas' changes reach this cache at once.
func (c *Cache) Listening() <-chan struct{} { return c.listening }

// Touch notes that key id was used at at. Run writes it later: at most
// once per key per TouchEvery, never on the request's path.
func (c *Cache) Touch(id string, at time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if prev, ok := c.touches[id]; !ok || at.After(prev) {
		c.touches[id] = at
	}
}

// FlushTouches writes the noted last-used times (one TouchKey per key).
// Those that fail are kept for the next flush; it returns the first error.
func (c *Cache) FlushTouches(ctx context.Context) error {
	c.mu.Lock()
	batch := c.touches
	c.touches = map[string]time.Time{}
	c.mu.Unlock()
	var first error
	for id, at := range batch {
		err := c.cfg.Store.TouchKey(ctx, id, at, 0)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			first = cmp.Or(first, err)
			c.Touch(id, at)
		}
	}
	return first
}

// Run listens on the Bus (when there is one) and writes last-used times
// every TouchEvery until ctx ends, then writes them once more.
func (c *Cache) Run(ctx context.Context) {
	var wg sync.WaitGroup
	if c.cfg.Bus != nil {
		wg.Go(func() {
			c.cfg.Bus.ListenAuth(ctx, c.cfg.Log, c.Deliver, func() {
				c.Reset() // what was missed while not listening
				c.listenOnce.Do(func() { close(c.listening) })
			})
		})
	}
	t := time.NewTicker(c.cfg.TouchEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			if err := c.FlushTouches(fctx); err != nil {
				c.cfg.Log.Warn("auth cache: final last-used write failed", "err", err)
			}
			cancel()
			wg.Wait()
			return
		case <-t.C:
			if err := c.FlushTouches(ctx); err != nil && ctx.Err() == nil {
				c.cfg.Log.Warn("auth cache: last-used write failed; will retry", "err", err)
			}
		}
	}
}
