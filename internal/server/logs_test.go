package server

import (
	"bufio"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/genericcorp/baton/internal/auth"
	"github.com/genericcorp/baton/internal/testutil"
	"github.com/genericcorp/baton/pkg/api"
)

// TestLogsHoldNoSecrets runs requests with real credentials (operator and
// workspace keys, a rotated key, a session token, wrong and unknown keys,
// a failing handler) through a server logging everything as JSON, and
// checks that no secret reaches the log, and that every request line names
// its request, and its key and workspace once authenticated.
func TestLogsHoldNoSecrets(t *testing.T) {
	t.Parallel()
	buf := &testutil.SyncBuffer{}
	log := slog.New(slog.NewJSONHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	b := setupWith(t, func(c *Config) { c.Logger = log })
	a := b.newTenant("acme")
	k := b.newKey(a.key, api.ScopeTasksWrite, api.ScopeTasksRead)
	var rotated api.Key
	b.call("POST", "/v1/keys/"+k.ID+"/rotate", a.key, api.RotateKeyRequest{Grace: "1h"}, 200, &rotated)
	var tok api.TokenResponse
	b.call("POST", "/v1/auth/token", a.key, nil, 200, &tok)
	b.call("GET", "/v1/me", tok.Token, nil, 200, nil)
	b.call("GET", "/v1/me", k.Secret, nil, 200, nil)       // the old secret, in its grace period
	b.call("GET", "/v1/me", rotated.Secret, nil, 200, nil) // the new one
	task := b.submit(rotated.Secret, api.SubmitTaskRequest{Input: json.RawMessage(`{"password":"in-the-input"}`)}, "idem-1", 201)
	b.call("GET", "/v1/tasks/"+task.ID, a.key, nil, 200, nil)
	unknown, _ := auth.NewKey(auth.WorkspacePrefix)
	wantProblem(t, b.req("GET", "/v1/me", unknown, ""), 401, api.CodeUnauthenticated)
	wantProblem(t, b.req("GET", "/v1/me", a.key+"x", ""), 401, api.CodeUnauthenticated)
	wantProblem(t, b.req("GET", "/v1/me", tok.Token+"x", ""), 401, api.CodeUnauthenticated)
	wantProblem(t, b.req("GET", "/v1/me", "", "", "Authorization", "Basic "+a.key), 401, api.CodeUnauthenticated)
	// A secret pasted where an id belongs.
	wantProblem(t, b.req("GET", "/v1/keys/"+k.Secret, a.key, ""), 404, api.CodeNotFound)
	wantProblem(t, b.req("DELETE", "/v1/keys/"+tok.Token, a.key, ""), 404, api.CodeNotFound)
	b.addRoute(route{method: "GET", path: "/test/error", scope: anyAuth, h: func(w http.ResponseWriter, r *http.Request, p *principal) error {
		return errors.New("internal failure at postgres://baton:db-password@db/baton with " + r.Header.Get("Authorization"))
	}})
	wantProblem(t, b.req("GET", "/test/error", a.key, ""), 500, api.CodeInternal)
	b.addRoute(route{method: "GET", path: "/test/panic", scope: anyAuth, h: func(w http.ResponseWriter, r *http.Request, p *principal) error {
		panic("boom holding " + r.Header.Get("Authorization"))
	}})
	wantProblem(t, b.req("GET", "/test/panic", a.key, ""), 500, api.CodeInternal)

	out := buf.String()
	secrets := map[string]string{"operator key": b.admin, "workspace key": a.key, "key": k.Secret,
		"rotated key": rotated.Secret, "unknown key": unknown, "session token": tok.Token,
		"server secret": string(b.secret), "task input": "in-the-input", "database password": "db-password"}
	for what, s := range secrets {
		if strings.Contains(out, s) {
			t.Errorf("the log holds the %s", what)
		}
	}
	// Nor a recognisable part of one: the random part of a key, the JWT's
	// signature.
	for _, s := range []string{a.key[3:], tok.Token[strings.LastIndex(tok.Token, ".")+1:]} {
		if strings.Contains(out, s) {
			t.Errorf("the log holds part of a secret: %q", s)
		}
	}

	requests := 0
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var line map[string]any
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("not a JSON log line: %s", sc.Bytes())
		}
		if line["msg"] == "request" || line["msg"] == "request failed" || line["msg"] == "panic" {
			requests++
			if id, _ := line["request_id"].(string); id == "" {
				t.Errorf("log line without a request id: %s", sc.Bytes())
			}
			if st, _ := line["status"].(float64); line["msg"] == "request" && st < 400 && line["route"] != "/v1/workspaces" &&
				(line["key_id"] == nil || line["workspace_id"] == nil) {
				t.Errorf("authenticated request logged without key and workspace: %s", sc.Bytes())
			}
		}
		if line["msg"] == "request failed" || line["msg"] == "panic" {
			if line["workspace_id"] != a.ws.ID || line["key_id"] == nil {
				t.Errorf("error logged without its workspace and key: %s", sc.Bytes())
			}
		}
	}
	if requests < 15 {
		t.Fatalf("only %d request lines logged:\n%s", requests, out)
	}
}
