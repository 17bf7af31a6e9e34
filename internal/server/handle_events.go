package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/genericcorp/baton/internal/store"
	"github.com/genericcorp/baton/internal/tasks"
	"github.com/genericcorp/baton/pkg/api"
)

const (
	eventsPage    = 500
	sseKeepAlive  = 15 * time.Second
	ssePoll       = time.Second
	sseMaxRuntime = time.Hour // a client reconnects with Last-Event-ID
)

func apiEvent(e store.TaskEvent) api.TaskEvent {
	return api.TaskEvent{Seq: e.Seq, Type: e.Type, Status: e.Status, Channel: e.Channel, Attempt: e.Attempt, Message: e.Message, At: e.At}
}

// handleTaskEvents lists a task's events after ?after= (JSON), or follows
// them live as server-sent events when the client accepts
// text/event-stream, resuming after Last-Event-ID.
func (s *Server) handleTaskEvents(w http.ResponseWriter, r *http.Request, p *principal) error {
	if err := needWorkspace(p); err != nil {
		return err
	}
	id := r.PathValue("id")
	after, err := parseSeq(r.URL.Query().Get("after"))
	if err != nil {
		return err
	}
	if last := r.Header.Get("Last-Event-ID"); last != "" {
		if after, err = parseSeq(last); err != nil {
			return err
		}
	}
	if strings.Contains(r.Header.Get("Accept"), "text/event-stream") {
		return s.streamEvents(w, r, p, id, after)
	}
	evs, err := s.store.ListEvents(r.Context(), p.workspaceID, id, after, eventsPage+1)
	if err != nil {
		return storeError(err, "task", id)
	}
	out := api.List[api.TaskEvent]{Data: make([]api.TaskEvent, 0, len(evs))}
	for i, e := range evs {
		if i == eventsPage {
			next := strconv.FormatInt(evs[i-1].Seq, 10)
			out.NextCursor = &next
			break
		}
		out.Data = append(out.Data, apiEvent(e))
	}
	encode(w, http.StatusOK, out)
	return nil
}

func parseSeq(v string) (int64, error) {
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		pr := api.Errorf(api.CodeInvalidRequest, "event sequence %q must be a whole number >= 0", v)
		pr.Errors = []api.FieldError{{Field: "after", Message: "must be a whole number"}}
		return 0, pr
	}
	return n, nil
}

func (s *Server) streamEvents(w http.ResponseWriter, r *http.Request, p *principal, id string, after int64) error {
	ctx := r.Context()
	if _, err := s.store.GetTask(ctx, p.workspaceID, id); err != nil {
		return storeError(err, "task", id)
	}
	release, err := s.streams.acquire(w, p.workspaceID, s.limits(*p.workspace).MaxOpenStreams)
	if err != nil {
		return err
	}
	defer release()
	st := s.openSSE(w)
	defer st.close()
	for {
		changed, done := s.tasks.Subscribe(tasks.TaskTopic(id))
		t, err := s.store.GetTask(ctx, p.workspaceID, id)
		if err != nil {
			done()
			return nil // the task went away (workspace deleted) or ctx ended
		}
		evs, err := s.store.ListEvents(ctx, p.workspaceID, id, after, eventsPage)
		if err != nil {
			done()
			return nil
		}
		more, ok := s.sendEvents(st, t, evs, &after)
		if !ok {
			done()
			return nil
		}
		if more {
			done()
			continue
		}
		alive := st.wait(ctx, ssePoll, changed, nil)
		done()
		if !alive {
			return nil
		}
	}
}

// sendEvents sends evs, a page of t's events, advancing after; at the end
// of a terminal task's events it sends the end event. more says another
// page may follow at once; ok is false when the stream must end.
func (s *Server) sendEvents(st *sseStream, t store.Task, evs []store.TaskEvent, after *int64) (more, ok bool) {
	for _, e := range evs {
		if !st.send(strconv.FormatInt(e.Seq, 10), e.Type, apiEvent(e)) {
			return false, false
		}
		*after = e.Seq
	}
	if len(evs) > 0 {
		st.flush()
	}
	if len(evs) < eventsPage && api.IsTerminal(t.Status) {
		st.send("", "end", map[string]string{"status": t.Status})
		st.flush()
		return false, false
	}
	return len(evs) == eventsPage, true
}

// sseStream is an open server-sent event stream.
type sseStream struct {
	w         http.ResponseWriter
	rc        *http.ResponseController
	keepAlive *time.Ticker
	stop      <-chan time.Time // the stream's maximum runtime
	closing   <-chan struct{}  // the server drains
}

// openSSE answers 200 with an event stream (no caching, no proxy
// buffering), flushed at once. Close it when done.
func (s *Server) openSSE(w http.ResponseWriter) *sseStream {
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	_ = rc.Flush()
	return &sseStream{w: w, rc: rc, keepAlive: time.NewTicker(sseKeepAlive), stop: time.After(sseMaxRuntime), closing: s.closing}
}

func (e *sseStream) close() { e.keepAlive.Stop() }

// send writes one event (data as JSON); false when the client is gone.
func (e *sseStream) send(id, event string, data any) bool {
	b, _ := json.Marshal(data)
	if id != "" {
		if _, err := fmt.Fprintf(e.w, "id: %s\n", id); err != nil {
			return false
		}
	}
	_, err := fmt.Fprintf(e.w, "event: %s\ndata: %s\n\n", event, b)
	return err == nil
}

func (e *sseStream) flush() { _ = e.rc.Flush() }

// wait returns true when a or b fires or poll has passed — time to look
// again — and false when the stream must end (the client left, the server
// drains, the maximum runtime is up). It writes a keep-alive comment every
// 15 s while it waits. A nil channel never fires.
func (e *sseStream) wait(ctx context.Context, poll time.Duration, a, b <-chan struct{}) bool {
	timer := time.NewTimer(poll)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return false
		case <-e.closing:
			return false
		case <-e.stop:
			return false
		case <-a:
			return true
		case <-b:
			return true
		case <-timer.C:
			return true
		case <-e.keepAlive.C:
			if _, err := fmt.Fprint(e.w, ": keep-alive\n\n"); err != nil {
				return false
			}
			e.flush()
		}
	}
}
