package server

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/genericcorp/baton/internal/store"
	"github.com/genericcorp/baton/pkg/api"
)

const (
	defaultLimit = 20
	maxLimit     = 100
)

// cursor is the decoded form of an opaque list cursor. It is bound to the
// workspace and the list it came from, so it cannot be replayed elsewhere.
type cursor struct {
	Workspace string `json:"w"`
	List      string `json:"l"`
	After     string `json:"a"`
}

// pageParams parses ?limit= and ?cursor= for list (a name such as "keys")
// in workspaceID. Errors: *api.Problem invalid_request.
func pageParams(r *http.Request, list, workspaceID string) (store.Page, error) {
	q := r.URL.Query()
	p := store.Page{Limit: defaultLimit}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxLimit {
			pr := api.Errorf(api.CodeInvalidRequest, "limit must be a whole number from 1 to %d", maxLimit)
			pr.Errors = []api.FieldError{{Field: "limit", Message: "must be 1-100"}}
			return p, pr
		}
		p.Limit = n
	}
	if v := q.Get("cursor"); v != "" {
		raw, err := base64.RawURLEncoding.DecodeString(v)
		var c cursor
		if err != nil || json.Unmarshal(raw, &c) != nil || c.Workspace != workspaceID || c.List != list || c.After == "" {
			pr := api.NewProblem(api.CodeInvalidRequest, "invalid cursor: pass next_cursor from the previous page unchanged")
			pr.Errors = []api.FieldError{{Field: "cursor", Message: "invalid"}}
			return p, pr
		}
		p.After = c.After
	}
	return p, nil
}

// page turns rows fetched with Limit+1 into a list response: the extra row,
// if present, proves there is a next page.
func page[T any, R any](rows []R, limit int, list, workspaceID string, id func(R) string, conv func(R) T) api.List[T] {
	out := api.List[T]{Data: make([]T, 0, min(len(rows), limit))}
	for i, r := range rows {
		if i == limit {
			b, _ := json.Marshal(cursor{Workspace: workspaceID, List: list, After: id(rows[limit-1])})
			next := base64.RawURLEncoding.EncodeToString(b)
			out.NextCursor = &next
			break
		}
		out.Data = append(out.Data, conv(r))
	}
	return out
}

// fetchPage asks the store for one row more than the caller wants.
func fetchPage(p store.Page) store.Page {
	p.Limit++
	return p
}
