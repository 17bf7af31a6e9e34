// Package poolstats exports the connection pool statistics of a store as
// Prometheus metrics. Both stores use it, so their metrics share names:
// baton_db_pool_* with a label pool (postgres, or sqlite_writer and
// sqlite_reader).
package poolstats

import "github.com/prometheus/client_golang/prometheus"

// Stats is one pool's statistics at one moment.
type Stats struct {
	Pool   string  // the pool label
	Max    int64   // the most connections the pool opens
	Open   int64   // connections open (in use and idle)
	InUse  int64   // connections acquired now
	Idle   int64   // connections idle now
	Waits  int64   // acquisitions that had to wait for a connection (total)
	WaitS  float64 // time spent waiting, seconds (total)
	Counts bool    // Acq and AcqS are known (PostgreSQL)
	Acq    int64   // acquisitions (total)
	AcqS   float64 // time spent acquiring, seconds (total)
}

var (
	labels   = []string{"pool"}
	maxDesc  = prometheus.NewDesc("baton_db_pool_max_conns", "Most connections the store's pool opens.", labels, nil)
	openDesc = prometheus.NewDesc("baton_db_pool_open_conns", "Connections open in the store's pool (in use and idle).", labels, nil)
	useDesc  = prometheus.NewDesc("baton_db_pool_in_use_conns", "Connections of the store's pool in use now.", labels, nil)
	idleDesc = prometheus.NewDesc("baton_db_pool_idle_conns", "Idle connections of the store's pool.", labels, nil)
	waitDesc = prometheus.NewDesc("baton_db_pool_waits_total", "Connection acquisitions that waited for a free connection.", labels, nil)
	wsDesc   = prometheus.NewDesc("baton_db_pool_wait_seconds_total", "Time spent waiting for a free connection.", labels, nil)
	acqDesc  = prometheus.NewDesc("baton_db_pool_acquires_total", "Connection acquisitions (PostgreSQL).", labels, nil)
	acqSDesc = prometheus.NewDesc("baton_db_pool_acquire_seconds_total", "Time spent acquiring connections (PostgreSQL).", labels, nil)
)

// collector reads the stats at every scrape.
type collector struct{ read func() []Stats }

// NewCollector returns a collector that calls read at every scrape.
func NewCollector(read func() []Stats) prometheus.Collector { return collector{read} }

// Describe implements prometheus.Collector.
func (collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{maxDesc, openDesc, useDesc, idleDesc, waitDesc, wsDesc, acqDesc, acqSDesc} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c collector) Collect(ch chan<- prometheus.Metric) {
	for _, s := range c.read() {
		gauge := func(d *prometheus.Desc, v float64) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, s.Pool)
		}
		counter := func(d *prometheus.Desc, v float64) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, s.Pool)
		}
		gauge(maxDesc, float64(s.Max))
		gauge(openDesc, float64(s.Open))
		gauge(useDesc, float64(s.InUse))
		gauge(idleDesc, float64(s.Idle))
		counter(waitDesc, float64(s.Waits))
		counter(wsDesc, s.WaitS)
		if s.Counts {
			counter(acqDesc, float64(s.Acq))
			counter(acqSDesc, s.AcqS)
		}
	}
}
