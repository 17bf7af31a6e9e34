package postgres

import (
	"context"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/genericcorp/baton/internal/queue"
)

// notifyChannel is the LISTEN/NOTIFY channel replicas share.
const notifyChannel = "baton_changes"

// Notifier is a queue.Notifier across replicas: Notify sends pg_notify, and
// a dedicated connection LISTENs and wakes this process's waiters, so a
// claim on replica B sees a submit on replica A at once.
type Notifier struct {
	s     *Store
	local *queue.Local
	log   *slog.Logger
}

var _ queue.Notifier = (*Notifier)(nil)

// Notifier starts listening until ctx is done and returns the notifier.
func (s *Store) Notifier(ctx context.Context, log *slog.Logger) *Notifier {
	n := &Notifier{s: s, local: queue.NewLocal(), log: log}
	go n.listen(ctx)
	return n
}

// Notify tells every replica that topic changed. If the database cannot be
// reached it still wakes local waiters (who then poll the store anyway).
func (n *Notifier) Notify(ctx context.Context, topic string) {
	if _, err := n.s.pool.Exec(ctx, "SELECT pg_notify($1, $2)", notifyChannel, topic); err != nil {
		n.local.Notify(ctx, topic)
	}
}

// Changed returns a channel closed at the next notification.
func (n *Notifier) Changed() <-chan struct{} { return n.local.Changed() }

// listen holds a LISTEN connection, reconnecting with backoff.
func (n *Notifier) listen(ctx context.Context) {
	wait := 100 * time.Millisecond
	for ctx.Err() == nil {
		err := n.listenOnce(ctx)
		if ctx.Err() != nil {
			return
		}
		n.log.Warn("LISTEN connection lost; reconnecting", "err", err, "in", wait.String())
		n.local.Notify(ctx, "") // waiters re-check the store meanwhile
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = min(wait*2, 10*time.Second)
	}
}

func (n *Notifier) listenOnce(ctx context.Context) error {
	conn, err := pgx.ConnectConfig(ctx, n.s.pool.Config().ConnConfig.Copy())
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN "+notifyChannel); err != nil {
		return err
	}
	for {
		note, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		n.local.Notify(ctx, note.Payload)
	}
}
