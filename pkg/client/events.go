package client

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/genericcorp/baton/pkg/api"
)

// sseEvent is one server-sent event.
type sseEvent struct {
	ID    string
	Event string
	Data  string
}

// readSSE calls fn for every event on the stream until it ends or fn
// returns an error. Comments (keep-alives) are skipped.
func readSSE(sc *bufio.Scanner, fn func(sseEvent) error) error {
	var ev sseEvent
	var data []string
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if len(data) > 0 || ev.Event != "" {
				ev.Data = strings.Join(data, "\n")
				if err := fn(ev); err != nil {
					return err
				}
			}
			ev, data = sseEvent{}, nil
		case strings.HasPrefix(line, ":"):
		default:
			field, value, _ := strings.Cut(line, ":")
			value = strings.TrimPrefix(value, " ")
			switch field {
			case "id":
				ev.ID = value
			case "event":
				ev.Event = value
			case "data":
				data = append(data, value)
			}
		}
	}
	return sc.Err()
}

// errStreamEnded stops readSSE at the server's end event.
var errStreamEnded = errors.New("stream ended")

// FollowTaskEvents streams the events of task id after sequence after, and
// calls fn for each in order, until the task is finished (it returns the
// final status), fn returns an error, or ctx ends. A dropped connection is
// resumed with Last-Event-ID after a backoff, so fn sees every event exactly
// once. Errors: *APIError for a problem response (e.g. not_found), ctx's
// error, or fn's error.
func (c *Client) FollowTaskEvents(ctx context.Context, id string, after int64, fn func(api.TaskEvent) error) (string, error) {
	return c.FollowTaskEventsNotify(ctx, id, after, fn, nil)
}

// FollowTaskEventsNotify is FollowTaskEvents that also calls onDrop (when
// not nil) each time the stream dropped and is about to be resumed, with
// the cause and the wait before the reconnect, so a CLI can say so.
func (c *Client) FollowTaskEventsNotify(ctx context.Context, id string, after int64, fn func(api.TaskEvent) error, onDrop func(err error, wait time.Duration)) (string, error) {
	pid, err := pathID(id)
	if err != nil {
		return "", fmt.Errorf("follow task events: %w", err)
	}
	final := ""
	for attempt := 0; ; attempt++ {
		last := after
		err := c.followOnce(ctx, "/v1/tasks/"+pid+"/events", &after, func(ev sseEvent) error {
			if ev.Event == "end" {
				var end struct{ Status string }
				_ = json.Unmarshal([]byte(ev.Data), &end)
				final = end.Status
				return errStreamEnded
			}
			var te api.TaskEvent
			if err := json.Unmarshal([]byte(ev.Data), &te); err != nil {
				return fmt.Errorf("decode task event: %w", err)
			}
			if te.Seq <= after { // never hand out an event twice
				return nil
			}
			if err := fn(te); err != nil {
				return err
			}
			after = te.Seq
			return nil
		})
		switch {
		case errors.Is(err, errStreamEnded):
			return final, nil
		case ctx.Err() != nil:
			return "", ctx.Err()
		}
		var apiErr *APIError
		if errors.As(err, &apiErr) && apiErr.Status < 500 && apiErr.Code != api.CodeRateLimited {
			return "", apiErr
		}
		if err != nil && !isStreamError(err) {
			return "", err
		}
		if after > last {
			attempt = 0 // progress was made: start the backoff over
		}
		wait := c.backoff(attempt)
		c.tracef("* event stream of %s dropped (%v); resuming after %d in %s\n", id, err, after, wait)
		if onDrop != nil {
			onDrop(err, wait)
		}
		if serr := c.sleep(ctx, wait); serr != nil {
			return "", serr
		}
	}
}

// isStreamError reports errors that a reconnect may cure.
func isStreamError(err error) bool {
	if err == nil {
		return true // the server closed the stream without an end event
	}
	var apiErr *APIError
	if errors.As(err, &apiErr) {
		return true // 5xx, 429
	}
	var decodeErr *json.SyntaxError
	return !errors.As(err, &decodeErr) && !strings.HasPrefix(err.Error(), "decode task event")
}

func (c *Client) followOnce(ctx context.Context, path string, after *int64, fn func(sseEvent) error) error {
	opened := func() {}
	if c.reqTimeout > 0 {
		// The request timeout bounds the wait for the stream to open
		// (its response headers), not the stream.
		var cancel context.CancelCauseFunc
		ctx, cancel = context.WithCancelCause(ctx)
		defer cancel(nil)
		t := time.AfterFunc(c.reqTimeout, func() { cancel(ErrRequestTimeout) })
		defer t.Stop()
		opened = func() { t.Stop() }
	}
	return c.followOpen(ctx, path, after, fn, opened)
}

func (c *Client) followOpen(ctx context.Context, path string, after *int64, fn func(sseEvent) error, opened func()) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.baseURL+path, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("User-Agent", c.userAgent)
	req.Header.Set("Last-Event-ID", strconv.FormatInt(*after, 10))
	if c.apiKey != "" {
		req.Header.Set("Authorization", "Bearer "+c.apiKey)
	}
	if c.workspace != "" {
		req.Header.Set(api.HeaderWorkspace, c.workspace)
	}
	start := time.Now()
	resp, err := c.hc.Do(req)
	if err != nil {
		c.traceError(req, nil, err, time.Since(start))
		if errors.Is(context.Cause(ctx), ErrRequestTimeout) {
			return &timeoutError{method: req.Method, u: req.URL.String(), d: c.reqTimeout, err: err}
		}
		return err
	}
	opened()
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		data, _ := readLimited(resp, c.maxBytes)
		c.traceExchange(req, nil, resp, data, nil, time.Since(start))
		return newAPIError(resp, data, c.now())
	}
	c.tracef("< %s %s: event stream open\n", req.Method, req.URL.Path)
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	return readSSE(sc, fn)
}
