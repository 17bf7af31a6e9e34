package supervisor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/genericcorp/baton/pkg/agent"
	"github.com/genericcorp/baton/pkg/api"
	"github.com/genericcorp/baton/pkg/client"
)

// The usage lines of an agent's stderr ("::baton usage tokens=1200
// cost_usd=0.0031") are read by pkg/agent's parser, which `baton step run`
// shares.
var (
	isUsageLine = agent.IsUsageLine
	parseUsage  = agent.ParseUsageLine
)

// maxLinesPerRequest is the server's limit of lines in one logs request.
const maxLinesPerRequest = 1000

// streamFlush is how soon lines of a token stream are sent after the first
// of them is queued: tokens arriving within it share a request.
const streamFlush = 200 * time.Millisecond

// logShipper batches an attempt's log lines, and the lines of its token
// streams (emit), and sends them with AppendLogs: at logBatch lines, every
// logFlush (streamFlush after a stream line) and at the end. Its buffer
// holds at most logCapacity lines; past that (the server unreachable for
// long) lines are dropped and a "[N lines dropped]" marker (a log line)
// takes their place. Adding never blocks.
type logShipper struct {
	srv             API
	t               api.Task
	log             *slog.Logger
	batch, capacity int
	every, final    time.Duration

	flushMu sync.Mutex // one flush at a time: the loop's and sync's
	mu      sync.Mutex
	pending []shipLine
	dropped int
	soon    *time.Timer // wakes the loop streamFlush after a stream line
	fenced  bool        // the server refused the attempt's logs for good
	failing bool

	wake, quit, done chan struct{}
}

func newLogShipper(cfg Config, t api.Task, log *slog.Logger) *logShipper {
	return &logShipper{srv: cfg.API, t: t, log: log, batch: cfg.logBatch, capacity: cfg.logCapacity, every: cfg.logFlush, final: cfg.logFinalWait,
		wake: make(chan struct{}, 1), quit: make(chan struct{}), done: make(chan struct{})}
}

// shipLine is one queued line: a log line, or a line of the token stream
// on channel when stream.
type shipLine struct {
	text    string
	stream  bool
	channel string
}

// sameRequest says whether a and b go in one logs request.
func sameRequest(a, b shipLine) bool { return a.stream == b.stream && a.channel == b.channel }

// add queues one log line.
func (s *logShipper) add(line string) { s.put(shipLine{text: line}) }

// addStream queues lines of the token stream on channel; they are sent
// within streamFlush.
func (s *logShipper) addStream(channel string, lines ...string) {
	for _, l := range lines {
		s.put(shipLine{text: l, stream: true, channel: channel})
	}
	s.mu.Lock()
	if s.soon == nil && !s.fenced { // armed by the first line since the last send
		s.soon = time.AfterFunc(streamFlush, s.poke)
	}
	s.mu.Unlock()
}

func (s *logShipper) put(l shipLine) {
	s.mu.Lock()
	switch {
	case s.fenced:
	case len(s.pending) >= s.capacity:
		s.dropped++
	default:
		s.markDropped()
		s.pending = append(s.pending, l)
	}
	n := len(s.pending)
	s.mu.Unlock()
	if n >= s.batch {
		s.poke()
	}
}

// poke wakes the loop to send what is pending.
func (s *logShipper) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// markDropped puts the marker of dropped lines in place; s.mu is held.
func (s *logShipper) markDropped() {
	if s.dropped > 0 {
		s.pending = append(s.pending, shipLine{text: fmt.Sprintf("[%d lines dropped]", s.dropped)})
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
			if s.soon != nil {
				s.soon.Stop()
			}
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
		s.mu.Lock()
		if s.soon != nil {
			s.soon.Stop()
			s.soon = nil
		}
		s.mu.Unlock()
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

// sync sends what is pending now, before the caller goes on: the step
// endpoint calls it before it forwards a step, so the lines an agent
// emitted before a step that suspends its attempt reach the server while
// the attempt still holds the task (afterwards the server refuses them).
// An error leaves the lines pending for the loop to retry.
func (s *logShipper) sync(ctx context.Context) error {
	s.mu.Lock()
	n := len(s.pending)
	s.mu.Unlock()
	if n == 0 {
		return nil
	}
	return s.flush(ctx)
}

// flush sends everything pending, in requests of at most
// maxLinesPerRequest lines of one kind (log lines, or one channel's stream),
// in order, until done or an error.
func (s *logShipper) flush(ctx context.Context) error {
	s.flushMu.Lock()
	defer s.flushMu.Unlock()
	for {
		s.mu.Lock()
		if s.fenced || len(s.pending) == 0 {
			s.mu.Unlock()
			return nil
		}
		first := s.pending[0]
		lines := make([]string, 0, min(len(s.pending), maxLinesPerRequest))
		for _, l := range s.pending {
			if len(lines) == maxLinesPerRequest || !sameRequest(l, first) {
				break
			}
			lines = append(lines, l.text)
		}
		n := len(lines)
		s.mu.Unlock()
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := s.srv.AppendLogs(cctx, s.t.WorkspaceID, s.t.ID, api.LogsRequest{Attempt: s.t.Attempt, Lines: lines,
			Stream: first.stream, Channel: first.channel})
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
