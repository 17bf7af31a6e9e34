package client

import (
	"context"
	"net/http"
	"slices"
	"testing"

	"github.com/genericcorp/baton/pkg/api"
)

// pagedKeys serves /v1/keys in three pages: "" → c1 → c2 → end. failOn names a
// cursor answered with a 500 instead.
func pagedKeys(failOn string) http.HandlerFunc {
	pages := map[string]api.List[api.Key]{
		"":   {Data: []api.Key{{ID: "key_1"}, {ID: "key_2"}}, NextCursor: ptr("c1")},
		"c1": {Data: []api.Key{{ID: "key_3"}, {ID: "key_4"}}, NextCursor: ptr("c2")},
		"c2": {Data: []api.Key{{ID: "key_5"}}},
	}
	return func(w http.ResponseWriter, r *http.Request) {
		cursor := r.URL.Query().Get("cursor")
		if failOn != "" && cursor == failOn {
			writeProblem(w, api.CodeInternal, "boom")
			return
		}
		page, ok := pages[cursor]
		if !ok {
			writeProblem(w, api.CodeInvalidRequest, "bad cursor")
			return
		}
		writeJSON(w, 200, page)
	}
}

func TestAllKeysFollowsCursors(t *testing.T) {
	b := setup(t, pagedKeys(""))
	var ids []string
	for k, err := range b.c.AllKeys(context.Background(), 2) {
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, k.ID)
	}
	if want := []string{"key_1", "key_2", "key_3", "key_4", "key_5"}; !slices.Equal(ids, want) {
		t.Errorf("ids = %v, want %v", ids, want)
	}
	var queries []string
	for _, r := range b.requests() {
		if r.Method != "GET" || r.Path != "/v1/keys" {
			t.Errorf("request %s %s", r.Method, r.Path)
		}
		queries = append(queries, r.RawQuery)
	}
	if want := []string{"limit=2", "cursor=c1&limit=2", "cursor=c2&limit=2"}; !slices.Equal(queries, want) {
		t.Errorf("queries = %v, want %v", queries, want)
	}
}

func TestAllKeysStopsOnError(t *testing.T) {
	b := setup(t, pagedKeys("c1"))
	var ids []string
	var errs []error
	for k, err := range b.c.AllKeys(context.Background(), 0) {
		if err != nil {
			errs = append(errs, err)
			if k.ID != "" {
				t.Errorf("error yielded with %+v", k)
			}
			continue // the iterator must stop by itself
		}
		ids = append(ids, k.ID)
	}
	if !slices.Equal(ids, []string{"key_1", "key_2"}) || len(errs) != 1 || !IsCode(errs[0], api.CodeInternal) {
		t.Errorf("ids = %v, errs = %v", ids, errs)
	}
	if _, ok := errs[0].(*APIError); !ok {
		t.Errorf("error %T not an unwrapped *APIError", errs[0])
	}
	if n := len(b.requests()); n != 2 {
		t.Errorf("%d requests, want 2", n)
	}
}

func TestAllKeysBreak(t *testing.T) {
	b := setup(t, pagedKeys(""))
	for k, err := range b.c.AllKeys(context.Background(), 2) {
		if err != nil || k.ID != "key_1" {
			t.Fatalf("first = %+v, %v", k, err)
		}
		break
	}
	if n := len(b.requests()); n != 1 {
		t.Errorf("%d requests after break, want 1", n)
	}
	// Breaking at the end of a page fetches no further page.
	n := 0
	for range b.c.AllKeys(context.Background(), 2) {
		if n++; n == 2 {
			break
		}
	}
	if n := len(b.requests()); n != 2 {
		t.Errorf("%d requests in all, want 2", n)
	}
}

func TestAllWorkspacesRepeatedCursor(t *testing.T) {
	b := setup(t, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, api.List[api.Workspace]{Data: []api.Workspace{{ID: "ws_1"}}, NextCursor: ptr("same")})
	})
	var got []string
	var lastErr error
	for ws, err := range b.c.AllWorkspaces(context.Background(), 1) {
		if err != nil {
			lastErr = err
			continue
		}
		got = append(got, ws.ID)
	}
	if lastErr == nil || len(got) != 2 || len(b.requests()) != 2 {
		t.Errorf("got %v, err %v, %d requests", got, lastErr, len(b.requests()))
	}
	if r := b.requests()[0]; r.Path != "/v1/workspaces" || r.RawQuery != "limit=1" {
		t.Errorf("request %s?%s", r.Path, r.RawQuery)
	}
}

func TestListPageKeepsFilters(t *testing.T) {
	b := setup(t, func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, api.List[api.Key]{}) })
	q := map[string][]string{"status": {"queued", "running"}}
	if _, err := listPage[api.Key](context.Background(), b.c, "/v1/tasks", q, ListOptions{Limit: 5, Cursor: "x"}); err != nil {
		t.Fatal(err)
	}
	if got := b.requests()[0].RawQuery; got != "cursor=x&limit=5&status=queued&status=running" {
		t.Errorf("query = %q", got)
	}
	if len(q) != 1 {
		t.Errorf("caller's query changed: %v", q)
	}
}
