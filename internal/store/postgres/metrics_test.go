package postgres_test

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// TestPoolCollectors: the pool's metrics come from pgxpool.Stat, labelled
// pool="postgres".
func TestPoolCollectors(t *testing.T) {
	s := openURL(t, schemaURL(t)) // at most 4 connections
	if err := s.Ping(t.Context()); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	for _, c := range s.Collectors() {
		reg.MustRegister(c)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			if l := m.GetLabel(); len(l) != 1 || l[0].GetName() != "pool" || l[0].GetValue() != "postgres" {
				t.Fatalf("%s: labels %v, want pool=postgres", mf.GetName(), l)
			}
			got[mf.GetName()] = m.GetGauge().GetValue() + m.GetCounter().GetValue()
		}
	}
	if got["baton_db_pool_max_conns"] != 4 || got["baton_db_pool_acquires_total"] < 1 || got["baton_db_pool_open_conns"] < 1 {
		t.Fatalf("pool metrics = %v", got)
	}
}
