package postgres

import (
	"context"
	"log/slog"
	"time"

	"github.com/genericcorp/baton/pkg/backoff"
	"github.com/jackc/pgx/v5"
)

// authChannel carries the auth cache's invalidations ("key:ID",
// "workspace:ID") between replicas; see auth.Cache.
const authChannel = "baton_auth"

// PublishAuth sends msg to every replica's auth cache (auth.Bus).
func (s *Store) PublishAuth(ctx context.Context, msg string) error {
	_, err := s.pool.Exec(ctx, "SELECT pg_notify($1, $2)", authChannel, msg)
	return err
}

// ListenAuth delivers the auth cache's invalidations until ctx ends
// (auth.Bus); connected is called whenever the LISTEN is (re)established.
func (s *Store) ListenAuth(ctx context.Context, log *slog.Logger, deliver func(msg string), connected func()) {
	s.listen(ctx, log, authChannel, listenHooks{deliver: deliver, connected: connected})
}

// listenHooks are what a LISTEN loop tells its owner.
type listenHooks struct {
	deliver   func(payload string)
	connected func() // LISTEN is up (again): notifications from now on arrive
	lost      func() // the connection broke: notifications may be missed until connected
}

// listen holds a dedicated LISTEN connection on channel until ctx ends,
// reconnecting with backoff (100 ms doubling to 10 s, equal jitter so that
// replicas do not reconnect in step). The wake-up Notifier and the auth
// cache share it.
func (s *Store) listen(ctx context.Context, log *slog.Logger, channel string, h listenHooks) {
	policy := backoff.Policy{Base: 100 * time.Millisecond, Max: 10 * time.Second, Jitter: backoff.Equal}
	for failures := 1; ctx.Err() == nil; failures++ {
		err := s.listenOnce(ctx, channel, h)
		if ctx.Err() != nil {
			return
		}
		wait := policy.Delay(failures)
		log.Warn("LISTEN connection lost; reconnecting", "channel", channel, "err", err, "in", wait.String())
		if h.lost != nil {
			h.lost()
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

func (s *Store) listenOnce(ctx context.Context, channel string, h listenHooks) error {
	conn, err := pgx.ConnectConfig(ctx, s.pool.Config().ConnConfig.Copy())
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{channel}.Sanitize()); err != nil {
		return err
	}
	if h.connected != nil {
		h.connected()
	}
	for {
		note, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		h.deliver(note.Payload)
	}
}
