package postgres

import (
	"cmp"
	"context"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/genericcorp/baton/internal/store"
	"github.com/genericcorp/baton/internal/store/internal/flow"
)

// stmt is one statement and its arguments ($1 … $n).
type stmt struct {
	sql  string
	args []any
}

// exec runs s; what names it in an error.
func (x txRows) exec(ctx context.Context, what string, s stmt) error {
	if _, err := x.tx.Exec(ctx, s.sql, s.args...); err != nil {
		return fmt.Errorf("%s: %w", what, mapErr(err))
	}
	return nil
}

// part is a named data-modifying CTE of a composite statement. Names must
// not be table names (a CTE hides the table of its name from the parts
// after it): w_… and usage_….
type part struct {
	name string
	stmt
}

// composite is one statement made of data-modifying CTEs: PostgreSQL runs
// them all on one snapshot, in one round trip. The parts must not change
// one row twice (a transition's parts write distinct tables or rows).
type composite struct {
	parts []string
	args  []any
}

var placeholder = regexp.MustCompile(`\$(\d+)`)

// add appends parts, renumbering their placeholders after the arguments
// already there.
func (c *composite) add(parts ...part) {
	for _, p := range parts {
		off := len(c.args)
		sql := placeholder.ReplaceAllStringFunc(p.sql, func(m string) string {
			n, _ := strconv.Atoi(m[1:])
			return "$" + strconv.Itoa(n+off)
		})
		c.parts = append(c.parts, p.name+" AS ("+sql+")")
		c.args = append(c.args, p.args...)
	}
}

// sql is the statement, with final as its main query.
func (c *composite) sql(final string) string {
	return "WITH " + strings.Join(c.parts, ",\n") + "\n" + final
}

// Write applies w in one statement: the attempts inserted and updated, the
// usage recorded and rolled up, the tasks updated and their events, each a
// CTE of one composite statement.
func (x txRows) Write(ctx context.Context, w flow.Writes) error {
	var c composite
	c.add(x.also...)
	if len(w.NewAttempts) > 0 {
		c.add(part{"w_new_attempts", insertAttemptsStmt(w.Workspace, w.NewAttempts)})
	}
	if len(w.Attempts) > 0 {
		c.add(part{"w_attempts", saveAttemptsStmt(w.Attempts)})
	}
	if len(w.Usage) > 0 {
		// In key order, as usagerows.RecordHeld does: concurrent writers
		// of the same events wait for each other instead of deadlocking.
		usage := slices.Clone(w.Usage)
		slices.SortStableFunc(usage, func(a, b store.UsageEvent) int {
			return cmp.Or(strings.Compare(a.WorkspaceID, b.WorkspaceID), strings.Compare(a.ID, b.ID))
		})
		c.add(usageParts(usage)...)
	}
	if len(w.Tasks) > 0 {
		c.add(part{"w_tasks", saveTasksStmt(w.Tasks)})
	}
	if len(w.Events) > 0 {
		c.add(part{"w_events", insertEventsStmt(w.Events)})
	}
	if len(c.parts) == 0 {
		return nil
	}
	// Held, to go with the next statement or COMMIT (see pipeTx): its
	// error, if any, is then that statement's or the commit's.
	x.tx.hold(stmt{c.sql("SELECT 1"), c.args})
	return nil
}
