package supervisor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/genericcorp/baton/pkg/api"
	"github.com/genericcorp/baton/pkg/client"
)

// usagePrefix starts a usage report on an agent's stderr:
//
//	::baton usage tokens=1200 cost_usd=0.0031
const usagePrefix = "::baton usage"

// isUsageLine reports whether line is meant as a usage report.
func isUsageLine(line string) bool {
	rest, ok := strings.CutPrefix(line, usagePrefix)
	return ok && (rest == "" || rest[0] == ' ' || rest[0] == '\t')
}

// parseUsage reads a usage line: tokens (a whole number) and cost_usd (a
// decimal number of dollars, converted to micro-dollars without floating
// point; digits past the sixth decimal round up), each optional but not
// both, each at most once, nothing else.
func parseUsage(line string) (api.UsageReport, bool) {
	var u api.UsageReport
	if !isUsageLine(line) {
		return u, false
	}
	fields := strings.Fields(line[len(usagePrefix):])
	if len(fields) == 0 || len(fields) > 2 {
		return u, false
	}
	seen := map[string]bool{}
	for _, f := range fields {
		k, v, _ := strings.Cut(f, "=")
		if seen[k] {
			return u, false
		}
		seen[k] = true
		switch k {
		case "tokens":
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || !digits(v) {
				return u, false
			}
			u.Tokens = n
		case "cost_usd":
			m, ok := parseMicros(v)
			if !ok {
				return u, false
			}
			u.CostMicros = m
		default:
			return u, false
		}
	}
	return u, true
}

// parseMicros converts a decimal dollar amount ("0.0031", "12", ".5") to
// micro-dollars exactly; digits past the sixth decimal round up. At most 12
// digits of dollars, after rounding too: 999999999999.9999999 would round
// up to a 13-digit amount that no usage line can carry (found by
// FuzzParseUsage: the total it read did not read back).
func parseMicros(v string) (int64, bool) {
	whole, frac, dot := strings.Cut(v, ".")
	if (whole == "" && !dot) || (whole != "" && !digits(whole)) || (dot && !digits(frac)) || len(whole) > 12 {
		return 0, false
	}
	var m int64
	for _, c := range whole {
		m = m*10 + int64(c-'0')
	}
	for i := range 6 {
		m *= 10
		if i < len(frac) {
			m += int64(frac[i] - '0')
		}
	}
	if len(frac) > 6 && strings.Trim(frac[6:], "0") != "" {
		m++
	}
	return m, m < maxUsageMicros
}

// maxUsageMicros is 10^18: an amount of 13 digits of dollars.
const maxUsageMicros = 1_000_000_000_000_000_000

func digits(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// maxLinesPerRequest is the server's limit of lines in one logs request.
const maxLinesPerRequest = 1000

// logShipper batches an attempt's log lines and sends them with AppendLogs:
// at logBatch lines, every logFlush and at the end. Its buffer holds at
// most logCapacity lines; past that (the server unreachable for long) lines
// are dropped and a "[N lines dropped]" marker takes their place. Adding
// never blocks.
type logShipper struct {
	srv             API
	t               api.Task
	log             *slog.Logger
	batch, capacity int
	every, final    time.Duration

	mu      sync.Mutex
	pending []string
	dropped int
	fenced  bool // the server refused the attempt's logs for good
	failing bool

	wake, quit, done chan struct{}
}

func newLogShipper(cfg Config, t api.Task, log *slog.Logger) *logShipper {
	return &logShipper{srv: cfg.API, t: t, log: log, batch: cfg.logBatch, capacity: cfg.logCapacity, every: cfg.logFlush, final: cfg.logFinalWait,
		wake: make(chan struct{}, 1), quit: make(chan struct{}), done: make(chan struct{})}
}

// add queues one line.
func (s *logShipper) add(line string) {
	s.mu.Lock()
	switch {
	case s.fenced:
	case len(s.pending) >= s.capacity:
		s.dropped++
	default:
		s.markDropped()
		s.pending = append(s.pending, line)
	}
	n := len(s.pending)
	s.mu.Unlock()
	if n >= s.batch {
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
}

// markDropped puts the marker of dropped lines in place; s.mu is held.
func (s *logShipper) markDropped() {
	if s.dropped > 0 {
		s.pending = append(s.pending, fmt.Sprintf("[%d lines dropped]", s.dropped))
		s.dropped = 0
	}
}

// loop sends batches until close, then sends what is left (bounded).
func (s *logShipper) loop() {
	defer close(s.done)
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-s.quit; cancel() }()
	t := time.NewTicker(s.every)
	defer t.Stop()
	for {
		select {
		case <-s.quit:
			s.mu.Lock()
			s.markDropped()
			s.mu.Unlock()
			fctx, fcancel := context.WithTimeout(context.Background(), s.final)
			defer fcancel()
			if err := s.flush(fctx); err != nil {
				s.mu.Lock()
				n := len(s.pending)
				s.mu.Unlock()
				s.log.Warn("could not send the last log lines", "lines", n, "err", err)
			}
			return
		case <-t.C:
		case <-s.wake:
		}
		if err := s.flush(ctx); err != nil && !s.failing && ctx.Err() == nil {
			s.failing = true
			s.log.Warn("sending logs failed; buffering and retrying", "err", err)
		} else if err == nil {
			s.failing = false
		}
	}
}

// close sends the last lines and stops the loop.
func (s *logShipper) close() {
	close(s.quit)
	<-s.done
}

// flush sends everything pending, in requests of at most
// maxLinesPerRequest lines, until done or an error.
func (s *logShipper) flush(ctx context.Context) error {
	for {
		s.mu.Lock()
		if s.fenced || len(s.pending) == 0 {
			s.mu.Unlock()
			return nil
		}
		n := min(len(s.pending), maxLinesPerRequest)
		lines := slices.Clone(s.pending[:n])
		s.mu.Unlock()
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := s.srv.AppendLogs(cctx, s.t.WorkspaceID, s.t.ID, api.LogsRequest{Attempt: s.t.Attempt, Lines: lines})
		cancel()
		var ae *client.APIError
		switch {
		case err == nil:
		case lost(err):
			s.mu.Lock()
			s.fenced, s.pending, s.dropped = true, nil, 0
			s.mu.Unlock()
			s.log.Warn("logs refused: the attempt no longer holds the task", "err", err)
			return nil
		case errors.As(err, &ae) && !transient(err):
			s.log.Error("logs refused; dropping them", "lines", n, "err", err)
		default:
			return err
		}
		s.mu.Lock()
		s.pending = s.pending[n:]
		s.mu.Unlock()
	}
}
