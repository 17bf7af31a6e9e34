package server

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	apidoc "github.com/genericcorp/baton/api"
)

// The contract wrapper: every request that the HTTP tests send to a test
// server (setupOn) and every answer are checked against api/openapi.json,
// so an undocumented field, status, header or SSE event fails the test
// that made it. The rules:
//
//   - a request the document refuses must get a 4xx (the server may not
//     accept what the document says it refuses);
//   - every response must be documented: its status for the operation, its
//     content type, its body (objects validated strictly: a field the
//     document does not list fails), every header it sets beyond HTTP's
//     own (genericHeaders), and for an event stream each event's name and
//     data;
//   - a path no route matches must be a 404 or 405 problem.

// genericHeaders are the response headers of HTTP itself and of the
// transport, not of the API: they need no documentation.
var genericHeaders = []string{"Content-Type", "Content-Length", "Content-Encoding", "Date", "Cache-Control",
	"Transfer-Encoding", "X-Accel-Buffering", "Connection", "Vary", "X-Content-Type-Options"}

// testRoutePrefix is where tests mount routes of their own (addRoute):
// fixtures, not the API.
const testRoutePrefix = "/test/"

type contractDoc struct {
	doc    *openapi3.T
	router routers.Router
}

var contractOnce = sync.OnceValues(func() (*contractDoc, error) {
	doc, err := openapi3.NewLoader().LoadFromData(apidoc.JSON)
	if err != nil {
		return nil, err
	}
	openapi3filter.RegisterBodyDecoder("text/html", openapi3filter.PlainBodyDecoder) // GET /docs/errors
	doc.Servers = nil                                                                // match any host (the test servers' ports vary)
	strictObjects(doc)
	r, err := legacy.NewRouter(doc)
	if err != nil {
		return nil, err
	}
	return &contractDoc{doc: doc, router: r}, nil
})

// strictObjects makes every object schema with properties refuse other
// properties: the published document leaves responses open (clients should
// ignore new fields), the contract test holds the server to exactly what
// it documents.
func strictObjects(doc *openapi3.T) {
	seen := map[*openapi3.Schema]bool{}
	var walk func(r *openapi3.SchemaRef)
	walk = func(r *openapi3.SchemaRef) {
		if r == nil || r.Value == nil || seen[r.Value] {
			return
		}
		s := r.Value
		seen[s] = true
		if s.IsEmpty() {
			// Any JSON value: OpenAPI 3.0.3 (like JSON Schema) reads {}
			// as allowing null too; kin-openapi's 3.0 validator refuses
			// null unless nullable is set, so set it here.
			s.Nullable = true
		}
		if len(s.Properties) > 0 && s.AdditionalProperties.Has == nil && s.AdditionalProperties.Schema == nil {
			s.AdditionalProperties.Has = new(false)
		}
		for _, p := range s.Properties {
			walk(p)
		}
		walk(s.Items)
		walk(s.AdditionalProperties.Schema)
		for _, x := range slices.Concat(s.AllOf, s.OneOf, s.AnyOf) {
			walk(x)
		}
	}
	for _, s := range doc.Components.Schemas {
		walk(s)
	}
}

// contract wraps h so that every exchange is checked against the document;
// report gets each breach (t.Errorf in the HTTP tests).
func contract(report func(format string, args ...any), h http.Handler) http.Handler {
	cd, err := contractOnce()
	if err != nil {
		panic(fmt.Sprintf("api/openapi.json: %v", err))
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body []byte
		if r.Body != nil {
			body, _ = io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(body))
		}
		rec := &contractRecorder{ResponseWriter: w}
		h.ServeHTTP(rec, r)
		if err := cd.check(r, body, rec); err != nil {
			report("contract: %s %s → %d: %v", r.Method, r.URL.RequestURI(), rec.status, err)
		}
	})
}

// contractRecorder passes the response through, keeping its status,
// headers and (up to 4 MiB) body.
type contractRecorder struct {
	http.ResponseWriter
	status int
	header http.Header
	body   bytes.Buffer
}

func (c *contractRecorder) WriteHeader(status int) {
	if c.status == 0 {
		c.status, c.header = status, c.ResponseWriter.Header().Clone()
	}
	c.ResponseWriter.WriteHeader(status)
}

func (c *contractRecorder) Write(b []byte) (int, error) {
	if c.status == 0 {
		c.WriteHeader(http.StatusOK)
	}
	if c.body.Len() < 4<<20 {
		c.body.Write(b)
	}
	return c.ResponseWriter.Write(b)
}

func (c *contractRecorder) Unwrap() http.ResponseWriter { return c.ResponseWriter }

func (c *contractRecorder) Flush() {
	if c.status == 0 {
		c.WriteHeader(http.StatusOK)
	}
	_ = http.NewResponseController(c.ResponseWriter).Flush()
}

func (cd *contractDoc) check(r *http.Request, body []byte, rec *contractRecorder) error {
	if rec.status == statusClientClosed || rec.status == 0 {
		return nil // the client left: nobody reads the answer
	}
	if strings.HasPrefix(r.URL.Path, testRoutePrefix) {
		return nil
	}
	vr := r.Clone(context.Background())
	vr.Body = io.NopCloser(bytes.NewReader(body))
	if vr.URL.RawPath != "" {
		// An escaped path parameter (a step key with "/"): route on the
		// escaped path, as the server's mux does.
		vr.URL.Path, vr.URL.RawPath = vr.URL.RawPath, ""
	}
	route, params, err := cd.router.FindRoute(vr)
	if err != nil {
		if rec.status != http.StatusNotFound && rec.status != http.StatusMethodNotAllowed {
			return fmt.Errorf("no documented route, yet status %d", rec.status)
		}
		if rec.header.Get("Content-Type") != "application/problem+json" {
			return fmt.Errorf("unrouted request answered with %q, not a problem", rec.header.Get("Content-Type"))
		}
		return nil
	}
	opts := &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, IncludeResponseStatus: true, MultiError: true}
	in := &openapi3filter.RequestValidationInput{Request: vr, PathParams: params, Route: route, Options: opts}
	if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil && rec.status < 400 {
		return fmt.Errorf("the server accepted a request the document refuses: %v", err)
	}
	sse := strings.HasPrefix(rec.header.Get("Content-Type"), "text/event-stream")
	respOpts := *opts
	respOpts.ExcludeResponseBody = sse
	in.Options = &respOpts
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: rec.status, Header: rec.header, Options: &respOpts}
	out.SetBodyBytes(rec.body.Bytes())
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
		return err
	}
	resp := route.Operation.Responses.Status(rec.status)
	for name := range rec.header {
		if slices.Contains(genericHeaders, name) {
			continue
		}
		documented := false
		for h := range resp.Value.Headers {
			documented = documented || strings.EqualFold(h, name)
		}
		if !documented {
			return fmt.Errorf("undocumented response header %s", name)
		}
	}
	if sse {
		return checkEvents(cd.doc, resp.Value.Content.Get("text/event-stream"), rec.body.Bytes())
	}
	return nil
}

// checkEvents validates an event stream: every event's name is one the
// document lists (x-baton-events) and its data is valid against that
// event's schema.
func checkEvents(doc *openapi3.T, mt *openapi3.MediaType, stream []byte) error {
	if mt == nil {
		return fmt.Errorf("an event stream the document does not list")
	}
	events, _ := mt.Extensions["x-baton-events"].(map[string]any)
	sc := bufio.NewScanner(bytes.NewReader(stream))
	sc.Buffer(nil, 4<<20)
	var name, data string
	flush := func() error {
		defer func() { name, data = "", "" }()
		if name == "" && data == "" {
			return nil
		}
		ref, ok := events[name].(string)
		if !ok {
			return fmt.Errorf("undocumented event %q", name)
		}
		schema := doc.Components.Schemas[strings.TrimPrefix(ref, "#/components/schemas/")]
		var v any
		if err := json.Unmarshal([]byte(data), &v); err != nil {
			return fmt.Errorf("event %s: data is not JSON: %v", name, err)
		}
		if err := schema.Value.VisitJSON(v); err != nil {
			return fmt.Errorf("event %s: %v", name, err)
		}
		return nil
	}
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if err := flush(); err != nil {
				return err
			}
		case strings.HasPrefix(line, "event: "):
			name = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			data = strings.TrimPrefix(line, "data: ")
		}
	}
	return nil // a last event without its blank line was cut off mid-send
}

// The wrapper itself: answers that break the document in each way it
// checks are reported; a right one is not.
func TestContractWrapperCatchesWrongAnswers(t *testing.T) {
	t.Parallel()
	task := `{"id":"t_1","workspace_id":"ws_1","queue":"default","status":"queued","priority":0,"input":{"a":1},"output":null,
		"error":"","labels":{},"attempt":0,"max_attempts":3,"timeout_seconds":60,"created_at":"2026-11-28T12:00:00Z",
		"started_at":null,"finished_at":null,"status_reason":"","run_at":"2026-11-28T12:00:00Z",
		"usage":{"execution_ms":0,"tokens":0,"cost_micros":0}}`
	cases := []struct {
		name, path, ctype, body, header string
		status                          int
		wantErr                         string // "" = no breach
	}{
		{"documented", "/v1/tasks/t_1", "application/json", task, "", 200, ""},
		{"any JSON output", "/v1/tasks/t_1", "application/json", strings.Replace(task, `"output":null`, `"output":["a",1]`, 1), "", 200, ""},
		{"undocumented field", "/v1/tasks/t_1", "application/json", strings.Replace(task, `"error":""`, `"error":"","secret":"x"`, 1), "", 200, "secret"},
		{"missing required", "/v1/tasks/t_1", "application/json", strings.Replace(task, `"queue":"default",`, "", 1), "", 200, "queue"},
		{"enum", "/v1/tasks/t_1", "application/json", strings.Replace(task, `"queued"`, `"pending"`, 1), "", 200, "status"},
		{"wrong type", "/v1/tasks/t_1", "application/json", strings.Replace(task, `"priority":0`, `"priority":"high"`, 1), "", 200, "priority"},
		{"undocumented status", "/v1/tasks/t_1", "application/json", task, "", 418, "418"},
		{"undocumented header", "/v1/tasks/t_1", "application/json", task, "X-Debug", 200, "X-Debug"},
		{"undocumented route", "/v1/nothing", "application/json", `{}`, "", 200, "no documented route"},
		{"undocumented event", "/v1/usage/stream", "text/event-stream", "event: bogus\ndata: {}\n\n", "", 200, "bogus"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var got []string
			h := contract(func(f string, a ...any) { got = append(got, fmt.Sprintf(f, a...)) },
				http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					w.Header().Set("Content-Type", c.ctype)
					w.Header().Set("X-Request-Id", "req_1")
					if c.header != "" {
						w.Header().Set(c.header, "1")
					}
					w.WriteHeader(c.status)
					_, _ = io.WriteString(w, c.body)
				}))
			r, _ := http.NewRequest("GET", "http://127.0.0.1"+c.path, nil)
			r.Header.Set("Authorization", "Bearer bk_x")
			h.ServeHTTP(&discardWriter{h: http.Header{}}, r)
			switch {
			case c.wantErr == "" && len(got) > 0:
				t.Fatalf("a documented answer was reported: %v", got)
			case c.wantErr != "" && (len(got) != 1 || !strings.Contains(got[0], c.wantErr)):
				t.Fatalf("reports = %v, want one naming %q", got, c.wantErr)
			}
		})
	}
}

type discardWriter struct{ h http.Header }

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (d *discardWriter) WriteHeader(int)             {}
