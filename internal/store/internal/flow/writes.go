package flow

import (
	"context"

	"github.com/genericcorp/baton/internal/store"
	"github.com/genericcorp/baton/internal/store/internal/usagerows"
)

// Writes is everything one transition writes once its rows are read and
// decided: new attempts, changed attempts, usage, changed tasks and their
// events. Tx.Write applies them together — PostgreSQL in one statement of
// data-modifying CTEs, so a claim or a completion costs one write round
// trip whatever it changes.
type Writes struct {
	Workspace   string          // the workspace of NewAttempts
	NewAttempts []store.Attempt // inserted
	Attempts    []store.Attempt // updated (every mutable column)
	Usage       []store.UsageEvent
	Tasks       []Row // updated (every mutable column and the event seq)
	Events      []store.TaskEvent
}

// Empty reports whether w writes nothing.
func (w Writes) Empty() bool {
	return len(w.NewAttempts)+len(w.Attempts)+len(w.Usage)+len(w.Tasks)+len(w.Events) == 0
}

// WriteEach applies w a statement per kind of row, through tx's single
// methods: the Write of a dialect without a cheaper way (SQLite, whose
// statements cost no round trip).
func WriteEach(ctx context.Context, tx Tx, w Writes) error {
	if len(w.NewAttempts) > 0 {
		if err := tx.InsertAttempts(ctx, w.Workspace, w.NewAttempts); err != nil {
			return err
		}
	}
	if len(w.Attempts) > 0 {
		if err := tx.SaveAttempts(ctx, w.Attempts); err != nil {
			return err
		}
	}
	if len(w.Usage) > 0 {
		if _, err := usagerows.RecordHeld(ctx, tx, w.Usage); err != nil {
			return err
		}
	}
	if len(w.Tasks) > 0 {
		if err := tx.SaveTasks(ctx, w.Tasks); err != nil {
			return err
		}
	}
	if len(w.Events) > 0 {
		return tx.InsertEvents(ctx, w.Events)
	}
	return nil
}
