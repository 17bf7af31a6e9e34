package server

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/genericcorp/baton/internal/store"
	"github.com/genericcorp/baton/pkg/api"
)

const (
	eventsPage    = 500
	sseKeepAlive  = 15 * time.Second
	ssePoll       = time.Second
	sseMaxRuntime = time.Hour // a client reconnects with Last-Event-ID
)

func apiEvent(e store.TaskEvent) api.TaskEvent {
	return api.TaskEvent{Seq: e.Seq, Type: e.Type, Status: e.Status, Attempt: e.Attempt, Message: e.Message, At: e.At}
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
	rc := startSSE(w)

	keepAlive := time.NewTicker(sseKeepAlive)
	defer keepAlive.Stop()
	stop := time.After(sseMaxRuntime)
	for {
		changed := s.queue.Changed()
		t, err := s.store.GetTask(ctx, p.workspaceID, id)
		if err != nil {
			return nil // the task went away (workspace deleted) or ctx ended
		}
		evs, err := s.store.ListEvents(ctx, p.workspaceID, id, after, eventsPage)
		if err != nil {
			return nil
		}
		for _, e := range evs {
			b, _ := json.Marshal(apiEvent(e))
			if _, err := fmt.Fprintf(w, "id: %d\nevent: %s\ndata: %s\n\n", e.Seq, e.Type, b); err != nil {
				return nil
			}
			after = e.Seq
		}
		if len(evs) > 0 {
			_ = rc.Flush()
		}
		if len(evs) < eventsPage && api.IsTerminal(t.Status) {
			fmt.Fprintf(w, "event: end\ndata: {\"status\":%q}\n\n", t.Status)
			_ = rc.Flush()
			return nil
		}
		if len(evs) == eventsPage {
			continue
		}
		select {
		case <-ctx.Done():
			return nil
		case <-s.closing:
			return nil
		case <-stop:
			return nil
		case <-changed:
		case <-time.After(ssePoll):
		case <-keepAlive.C:
			if _, err := fmt.Fprint(w, ": keep-alive\n\n"); err != nil {
				return nil
			}
			_ = rc.Flush()
		}
	}
}

// startSSE answers 200 with an event stream (no caching, no proxy
// buffering), flushed at once, and returns the controller to flush events.
func startSSE(w http.ResponseWriter) *http.ResponseController {
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	_ = rc.Flush()
	return rc
}
