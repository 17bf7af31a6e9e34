package sqlite

import (
	"context"
	"database/sql"
	"sync"
)

// SQLite compiles every statement it runs — a task update also compiles
// the task_counts triggers into it — and database/sql prepares a plain
// Query or Exec anew each time: parsing was 40 % of the CPU of a drain
// (BenchmarkDrain16). Statements of the write transactions are therefore
// prepared once on the writer connection and reused.

// stmtCacheMax bounds the texts kept prepared; texts built for a number of
// rows (multi-row VALUES) are many, and past the bound run unprepared.
const (
	stmtCacheMax  = 512
	stmtTextLimit = 8 << 10
)

// stmtCache keeps statements prepared on the writer. A statement is never
// prepared inside a transaction — the writer's one connection is the
// transaction's, so preparing on the pool would wait for it forever —
// but is noted when a transaction first runs it, and prepared before the
// next transaction begins (prepareNoted), while the connection is free.
type stmtCache struct {
	db    *sql.DB
	mu    sync.Mutex
	m     map[string]*sql.Stmt
	noted map[string]bool
}

func newStmtCache(db *sql.DB) *stmtCache {
	return &stmtCache{db: db, m: map[string]*sql.Stmt{}, noted: map[string]bool{}}
}

// get returns query prepared, or nil (then noting it, if it is to be
// cached): the caller runs it unprepared.
func (c *stmtCache) get(query string) *sql.Stmt {
	c.mu.Lock()
	defer c.mu.Unlock()
	if st, ok := c.m[query]; ok {
		return st
	}
	if len(query) <= stmtTextLimit && len(c.m)+len(c.noted) < stmtCacheMax {
		c.noted[query] = true
	}
	return nil
}

// prepareNoted prepares the statements noted since the last call. It runs
// outside any transaction; a statement that fails to prepare is dropped
// (it runs unprepared, and reports its error there).
func (c *stmtCache) prepareNoted(ctx context.Context) {
	c.mu.Lock()
	if len(c.noted) == 0 {
		c.mu.Unlock()
		return
	}
	queries := make([]string, 0, len(c.noted))
	for q := range c.noted {
		queries = append(queries, q)
	}
	clear(c.noted)
	c.mu.Unlock()
	// Not under c.mu: preparing waits for the writer's connection, and the
	// transaction holding it may be asking get meanwhile.
	for _, q := range queries {
		st, err := c.db.PrepareContext(ctx, q)
		if err != nil {
			continue
		}
		c.mu.Lock()
		if _, dup := c.m[q]; dup {
			st.Close()
		} else {
			c.m[q] = st
		}
		c.mu.Unlock()
	}
}

// close closes every prepared statement.
func (c *stmtCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for q, st := range c.m {
		st.Close()
		delete(c.m, q)
	}
}

// preparedTx is a write transaction whose statements come from a cache.
type preparedTx struct {
	tx    *sql.Tx
	cache *stmtCache
}

func (p *preparedTx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if st := p.cache.get(query); st != nil {
		return p.tx.StmtContext(ctx, st).ExecContext(ctx, args...)
	}
	return p.tx.ExecContext(ctx, query, args...)
}

func (p *preparedTx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if st := p.cache.get(query); st != nil {
		return p.tx.StmtContext(ctx, st).QueryContext(ctx, args...)
	}
	return p.tx.QueryContext(ctx, query, args...)
}

func (p *preparedTx) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if st := p.cache.get(query); st != nil {
		return p.tx.StmtContext(ctx, st).QueryRowContext(ctx, args...)
	}
	return p.tx.QueryRowContext(ctx, query, args...)
}
