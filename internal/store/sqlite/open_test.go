package sqlite

import (
	"database/sql"
	"os"
	"path/filepath"
	"testing"
)

func TestOpenSettings(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "name with space?and#odd%chars.db")
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer s.Close()
	if _, err := os.Stat(path); err != nil {
		t.Errorf("database file not at the given path: %v", err)
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("Migrate: %v", err)
	}

	pragma := func(db *sql.DB, name string) string {
		t.Helper()
		var v string
		if err := db.QueryRowContext(ctx, "PRAGMA "+name).Scan(&v); err != nil {
			t.Fatalf("PRAGMA %s: %v", name, err)
		}
		return v
	}
	for _, tc := range []struct {
		db         *sql.DB
		conn, name string
		want       string
	}{
		{s.writer, "writer", "journal_mode", "wal"},
		{s.writer, "writer", "synchronous", "2"}, // FULL
		{s.writer, "writer", "busy_timeout", "5000"},
		{s.writer, "writer", "foreign_keys", "1"},
		{s.writer, "writer", "query_only", "0"},
		{s.reader, "reader", "journal_mode", "wal"},
		{s.reader, "reader", "busy_timeout", "5000"},
		{s.reader, "reader", "query_only", "1"},
	} {
		if got := pragma(tc.db, tc.name); got != tc.want {
			t.Errorf("%s: PRAGMA %s = %s, want %s", tc.conn, tc.name, got, tc.want)
		}
	}
	if n := s.writer.Stats().MaxOpenConnections; n != 1 {
		t.Errorf("writer allows %d connections, want 1", n)
	}
	if _, err := s.reader.ExecContext(ctx, `DELETE FROM workspaces`); err == nil {
		t.Error("the read pool accepted a write")
	}
}

func TestOpenRefusesMemory(t *testing.T) {
	for _, path := range []string{"", ":memory:"} {
		if s, err := Open(t.Context(), path); err == nil {
			s.Close()
			t.Errorf("Open(%q) succeeded, want an error", path)
		}
	}
}
