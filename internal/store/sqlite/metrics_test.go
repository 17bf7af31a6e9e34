package sqlite_test

import (
	"path/filepath"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/genericcorp/baton/internal/store/sqlite"
)

// TestPoolCollectors: the writer's and the readers' pool metrics come from
// sql.DBStats, labelled pool=sqlite_writer and sqlite_reader.
func TestPoolCollectors(t *testing.T) {
	s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "baton.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	reg := prometheus.NewRegistry()
	for _, c := range s.Collectors() {
		reg.MustRegister(c)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	maxConns := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != "baton_db_pool_max_conns" {
			continue
		}
		for _, m := range mf.GetMetric() {
			maxConns[m.GetLabel()[0].GetValue()] = m.GetGauge().GetValue()
		}
	}
	if maxConns["sqlite_writer"] != 1 || maxConns["sqlite_reader"] < 4 {
		t.Fatalf("baton_db_pool_max_conns = %v, want writer 1, readers ≥ 4", maxConns)
	}
}
