// Package openapi generates baton's OpenAPI document (api/openapi.json)
// from the server's route table (server.Routes) and the wire types of
// pkg/api, with kin-openapi's openapi3 model and openapi3gen for the
// schemas.
//
// The document is OpenAPI 3.0.3, not 3.1: oapi-codegen (v2) does not read
// 3.1 documents, and kin-openapi validates requests and responses against
// 3.0 schemas (nullable) without the experimental JSON Schema 2020 mode.
package openapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/genericcorp/baton/internal/server"
	"github.com/genericcorp/baton/pkg/api"
)

// Version is the document's info.version: the API's, not the server's.
const Version = "1.0.0"

// op is what the route table does not say about a route: its stable
// operationId and tag, and the statuses it answers beyond those every
// route of its kind answers (see responses).
type op struct {
	id, tag string
	extra   []int // extra statuses
}

// ops names every route. A route missing here fails generation, so a new
// route cannot go undocumented.
var ops = map[string]op{
	"GET /healthz":      {id: "meta.health", tag: "meta"},
	"GET /readyz":       {id: "meta.ready", tag: "meta", extra: []int{503}},
	"GET /docs/errors":  {id: "meta.errorDocs", tag: "meta"},
	"GET /metrics":      {id: "meta.metrics", tag: "meta", extra: []int{401, 404}},
	"GET /openapi.json": {id: "meta.openapi", tag: "meta"},

	"POST /v1/auth/token": {id: "auth.token", tag: "auth", extra: []int{413}},
	"GET /v1/me":          {id: "auth.me", tag: "auth"},
	"GET /v1/tiers":       {id: "tiers.list", tag: "tiers"},

	"POST /v1/workspaces":        {id: "workspaces.create", tag: "workspaces", extra: []int{409}},
	"GET /v1/workspaces":         {id: "workspaces.list", tag: "workspaces"},
	"GET /v1/workspaces/{id}":    {id: "workspaces.get", tag: "workspaces"},
	"PATCH /v1/workspaces/{id}":  {id: "workspaces.update", tag: "workspaces", extra: []int{409}},
	"DELETE /v1/workspaces/{id}": {id: "workspaces.delete", tag: "workspaces"},

	"POST /v1/keys":              {id: "keys.create", tag: "keys"},
	"GET /v1/keys":               {id: "keys.list", tag: "keys"},
	"GET /v1/keys/{id}":          {id: "keys.get", tag: "keys"},
	"DELETE /v1/keys/{id}":       {id: "keys.revoke", tag: "keys"},
	"POST /v1/keys/{id}/rotate":  {id: "keys.rotate", tag: "keys", extra: []int{409}},
	"POST /v1/tasks":             {id: "tasks.submit", tag: "tasks", extra: []int{200, 409}},
	"GET /v1/tasks":              {id: "tasks.list", tag: "tasks"},
	"GET /v1/tasks/{id}":         {id: "tasks.get", tag: "tasks"},
	"PATCH /v1/tasks/{id}":       {id: "tasks.update", tag: "tasks", extra: []int{409}},
	"POST /v1/tasks/{id}/retry":  {id: "tasks.retry", tag: "tasks", extra: []int{409}},
	"POST /v1/tasks/{id}/cancel": {id: "tasks.cancel", tag: "tasks", extra: []int{409}},
	"GET /v1/tasks/{id}/events":  {id: "tasks.events", tag: "tasks"},
	"GET /v1/tasks/{id}/steps":   {id: "steps.list", tag: "steps"},

	"POST /v1/tasks/{id}/signals/{name}":    {id: "tasks.signal", tag: "steps", extra: []int{200, 409}},
	"POST /v1/tasks/{id}/steps/{key}/begin": {id: "steps.begin", tag: "steps", extra: []int{409}},
	"POST /v1/tasks/{id}/steps/{key}/end":   {id: "steps.end", tag: "steps", extra: []int{409}},

	"POST /v1/tasks/claim":          {id: "worker.claim", tag: "worker"},
	"POST /v1/tasks/{id}/heartbeat": {id: "worker.heartbeat", tag: "worker", extra: []int{409}},
	"POST /v1/tasks/{id}/logs":      {id: "worker.logs", tag: "worker", extra: []int{409}},
	"POST /v1/tasks/{id}/complete":  {id: "worker.complete", tag: "worker", extra: []int{409}},
	"POST /v1/tasks/{id}/fail":      {id: "worker.fail", tag: "worker", extra: []int{409}},
	"GET /v1/workers":               {id: "fleet.workers", tag: "fleet"},
	"GET /v1/queues":                {id: "fleet.queues", tag: "fleet"},

	"GET /v1/usage":            {id: "usage.series", tag: "usage"},
	"GET /v1/usage/quota":      {id: "usage.quota", tag: "usage"},
	"GET /v1/usage/stream":     {id: "usage.stream", tag: "usage"},
	"GET /v1/alerts":           {id: "alerts.list", tag: "alerts"},
	"POST /v1/alerts/{id}/ack": {id: "alerts.ack", tag: "alerts"},
	"GET /v1/admin/costs":      {id: "admin.costs", tag: "admin"},
	"GET /v1/admin/usage":      {id: "admin.usage", tag: "admin"},
}

var tagDescriptions = map[string]string{
	"meta":       "Health, readiness, metrics, error docs and this document (no credential)",
	"auth":       "Session tokens and the caller's identity",
	"tiers":      "Tiers and their limits",
	"workspaces": "Tenants (operator keys)",
	"keys":       "API keys of a workspace",
	"tasks":      "Submit, list, follow and control tasks",
	"steps":      "Durable steps, signals and the journal",
	"worker":     "The worker protocol: claim, heartbeat, logs, outcome",
	"fleet":      "Workers and queues",
	"usage":      "Usage series, quota and its live stream",
	"alerts":     "Quota and anomaly alerts",
	"admin":      "Operator reports across workspaces",
}

// queryParams describes each query parameter the route table names.
var queryParams = map[string]struct {
	desc   string
	schema *openapi3.Schema
}{
	"cursor":      {"Opaque cursor from the previous page's next_cursor (bound to the workspace and the list).", openapi3.NewStringSchema()},
	"status":      {"Only tasks in this status.", openapi3.NewStringSchema().WithEnum(anys(api.TaskStatuses)...)},
	"queue":       {"Only tasks of this queue.", openapi3.NewStringSchema()},
	"label":       {"Only tasks with this label, as key=value; repeat for several (all must match).", nil},
	"after":       {"Only events after this sequence number (JSON listing).", openapi3.NewInt64Schema().WithMin(0)},
	"from":        {"Start: an RFC 3339 time or a date (YYYY-MM-DD); default the start of the billing period.", openapi3.NewStringSchema()},
	"to":          {"End: an RFC 3339 time or a date; default now.", openapi3.NewStringSchema()},
	"granularity": {"Bucket size.", openapi3.NewStringSchema().WithEnum(api.GranularityHour, api.GranularityDay)},
	"state":       {"open (default) or all.", openapi3.NewStringSchema().WithEnum("open", "all")},
	"period":      {"The month, YYYY-MM (default: this month).", openapi3.NewStringSchema().WithPattern(`^[0-9]{4}-[0-9]{2}$`)},
}

func anys(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// Document builds the API document.
func Document() (*openapi3.T, error) {
	b := server.DocBounds()
	sg, err := newSchemas(b)
	if err != nil {
		return nil, err
	}
	doc := &openapi3.T{
		OpenAPI: "3.0.3",
		Info: &openapi3.Info{Title: "baton API", Version: Version,
			Description: "baton's HTTP API (v1). JSON in and out; errors are RFC 9457 problem details " +
				"(application/problem+json) whose `code` programs switch on. Timestamps are RFC 3339 UTC; " +
				"money is integer micro-dollars (`*_micros`). Each operation's `x-baton-scope` is the key " +
				"scope it needs (`any`: any valid credential). Request bodies refuse unknown fields (400 naming the field); " +
				"the server reads a request body as JSON whatever its Content-Type says (it never answers 415). " +
				"Responses may gain fields: ignore those you do not know.",
			License: &openapi3.License{Name: "Apache-2.0", URL: "https://www.apache.org/licenses/LICENSE-2.0"}},
		Servers: openapi3.Servers{{URL: "http://127.0.0.1:7070", Description: "baton dev / a local server"}},
		Paths:   openapi3.NewPaths(),
		Components: &openapi3.Components{
			Schemas:         sg.all,
			Responses:       openapi3.ResponseBodies{},
			Parameters:      openapi3.ParametersMap{},
			Headers:         openapi3.Headers{},
			SecuritySchemes: securitySchemes(),
		},
	}
	if _, err := sg.ref(api.Problem{}); err != nil {
		return nil, err
	}
	addComponents(doc, b)

	tags := map[string]bool{}
	for _, rt := range server.Routes() {
		o, ok := ops[rt.Method+" "+rt.Path]
		if !ok {
			return nil, fmt.Errorf("openapi: route %s %s has no entry in ops (operationId, tag)", rt.Method, rt.Path)
		}
		tags[o.tag] = true
		operation, err := operationFor(sg, rt, o)
		if err != nil {
			return nil, fmt.Errorf("openapi: %s %s: %w", rt.Method, rt.Path, err)
		}
		item := doc.Paths.Value(rt.Path)
		if item == nil {
			item = &openapi3.PathItem{}
			doc.Paths.Set(rt.Path, item)
		}
		item.SetOperation(rt.Method, operation)
	}
	end := openapi3.NewObjectSchema()
	end.Description = "The data of an event stream's last event (end): the task's terminal status."
	sg.all["StreamEnd"] = end.
		WithProperty("status", openapi3.NewStringSchema().WithEnum("succeeded", "failed", "cancelled", "timed_out", "terminated")).
		WithRequired([]string{"status"}).NewRef()
	for _, name := range slices.Sorted(mapsKeys(tags)) {
		doc.Tags = append(doc.Tags, &openapi3.Tag{Name: name, Description: tagDescriptions[name]})
	}
	return doc, nil
}

func mapsKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// JSON is the document as committed: indented, ending in a newline.
func JSON() ([]byte, error) {
	doc, err := Document()
	if err != nil {
		return nil, err
	}
	raw, err := json.Marshal(doc)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	if err := json.Indent(&out, raw, "", "  "); err != nil {
		return nil, err
	}
	out.WriteByte('\n')
	return out.Bytes(), nil
}

func securitySchemes() openapi3.SecuritySchemes {
	return openapi3.SecuritySchemes{
		"apiKey": {Value: &openapi3.SecurityScheme{Type: "http", Scheme: "bearer",
			Description: "An API key as a bearer token: bk_… (workspace) or bak_… (operator). " +
				"Operator keys act on one workspace with the Baton-Workspace header."}},
		"sessionToken": {Value: &openapi3.SecurityScheme{Type: "http", Scheme: "bearer", BearerFormat: "JWT",
			Description: "A 15-minute session JWT from POST /v1/auth/token, as a bearer token."}},
	}
}

// Problem responses, by status: the component name, description and the
// problem codes (the `type` is /docs/errors#CODE) a route answers with it.
var problemResponses = map[int]struct {
	name, desc string
	codes      []api.Code
}{
	400: {"BadRequest", "Malformed JSON, an unknown field, a wrong type, or an unknown query value.", []api.Code{api.CodeInvalidRequest}},
	401: {"Unauthenticated", "Missing, malformed, unknown, expired or revoked credential.", []api.Code{api.CodeUnauthenticated}},
	403: {"Forbidden", "The credential lacks the route's scope, or the workspace is suspended.", []api.Code{api.CodeForbidden, api.CodeWorkspaceSuspended}},
	404: {"NotFound", "No such object in the caller's workspace (another tenant's ids are 404 too).", []api.Code{api.CodeNotFound}},
	408: {"RequestTimeout", "The request body did not arrive in time.", []api.Code{api.CodeRequestTimeout}},
	409: {"Conflict", "An idempotency key reused with other parameters, a name taken, or the object's state forbids the change.", []api.Code{api.CodeConflict}},
	413: {"PayloadTooLarge", "The body is over the limit (1 MiB; a task's input 256 KiB).", []api.Code{api.CodePayloadTooLarge}},
	422: {"ValidationFailed", "Well-formed but invalid fields; errors[] names each.", []api.Code{api.CodeValidationFailed}},
	429: {"TooManyRequests", "Over a rate limit (rate_limited) or a monthly quota or spend cap (quota_exceeded); Retry-After says when to retry.", []api.Code{api.CodeRateLimited, api.CodeQuotaExceeded}},
	500: {"Internal", "A bug; the detail never leaks internals (quote the request id).", []api.Code{api.CodeInternal}},
	503: {"Unavailable", "The store is unreachable, the server drains, or it could not answer in time; Retry-After is set.", []api.Code{api.CodeUnavailable}},
}

func problemRef() *openapi3.SchemaRef {
	return openapi3.NewSchemaRef("#/components/schemas/Problem", nil)
}

func headerRef(name string) *openapi3.HeaderRef {
	return &openapi3.HeaderRef{Ref: "#/components/headers/" + name}
}

func addComponents(doc *openapi3.T, b server.Bounds) {
	c := doc.Components
	intSchema := openapi3.NewIntegerSchema().WithMin(0)
	str := openapi3.NewStringSchema()
	c.Headers["X-Request-Id"] = &openapi3.HeaderRef{Value: &openapi3.Header{Parameter: openapi3.Parameter{
		Description: "The request's id (echoed from the request when given, else made); quote it when reporting a problem.",
		Schema:      str.NewRef()}}}
	c.Headers["RateLimit-Policy"] = &openapi3.HeaderRef{Value: &openapi3.Header{Parameter: openapi3.Parameter{
		Description: `The tightest limit applied: "default";q=<requests per window>;w=<window seconds> (IETF httpapi-ratelimit-headers).`,
		Schema:      str.NewRef(), Example: `"default";q=600;w=60`}}}
	c.Headers["RateLimit"] = &openapi3.HeaderRef{Value: &openapi3.Header{Parameter: openapi3.Parameter{
		Description: `"default";r=<requests left now>;t=<seconds until the full burst is back>.`,
		Schema:      str.NewRef(), Example: `"default";r=599;t=0`}}}
	c.Headers["Retry-After"] = &openapi3.HeaderRef{Value: &openapi3.Header{Parameter: openapi3.Parameter{
		Description: "Whole seconds to wait before retrying.", Schema: intSchema.NewRef()}}}

	c.Parameters["Baton-Workspace"] = &openapi3.ParameterRef{Value: &openapi3.Parameter{Name: api.HeaderWorkspace, In: "header",
		Description: "The workspace an operator key acts on (ws_…); ignored for workspace keys.", Schema: str.NewRef()}}
	c.Parameters["X-Request-Id"] = &openapi3.ParameterRef{Value: &openapi3.Parameter{Name: api.HeaderRequestID, In: "header",
		Description: "The caller's request id (1–128 printable ASCII characters), echoed on the response.", Schema: str.NewRef()}}
	idem := uint64(b.MaxIdempotencyKey)
	c.Parameters["Idempotency-Key"] = &openapi3.ParameterRef{Value: &openapi3.Parameter{Name: api.HeaderIdempotencyKey, In: "header",
		Description: "Retry-safe creation: the same key and body return the first answer (200) instead of creating again (201); the same key with another body is a 409.",
		Schema:      &openapi3.SchemaRef{Value: &openapi3.Schema{Type: &openapi3.Types{"string"}, MaxLength: &idem}}}}
	limit := float64(b.MaxLimit)
	c.Parameters["limit"] = &openapi3.ParameterRef{Value: &openapi3.Parameter{Name: "limit", In: "query",
		Description: fmt.Sprintf("Page size, 1–%d (default %d).", b.MaxLimit, b.DefaultLimit),
		Schema:      openapi3.NewIntegerSchema().WithMin(1).WithMax(limit).WithDefault(b.DefaultLimit).NewRef()}}

	for status, p := range problemResponses {
		var types []string
		for _, code := range p.codes {
			types = append(types, "`/docs/errors#"+string(code)+"`")
		}
		resp := &openapi3.Response{Description: new(p.desc + " Problem types: " + strings.Join(types, ", ") + "."),
			Headers: openapi3.Headers{"X-Request-Id": headerRef("X-Request-Id")},
			Content: openapi3.Content{api.ProblemContentType: &openapi3.MediaType{Schema: problemRef()}}}
		resp.Extensions = map[string]any{"x-baton-problem-codes": codeStrings(p.codes)}
		// Authenticated routes send the rate-limit headers on problems too
		// (once the request was counted).
		resp.Headers["RateLimit-Policy"] = headerRef("RateLimit-Policy")
		resp.Headers["RateLimit"] = headerRef("RateLimit")
		switch status {
		case 429:
			resp.Headers["Retry-After"] = headerRef("Retry-After")
		case 503:
			resp.Headers["Retry-After"] = headerRef("Retry-After")
		}
		c.Responses[p.name] = &openapi3.ResponseRef{Value: resp}
	}
}

func codeStrings(cs []api.Code) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = string(c)
	}
	return out
}

func operationFor(sg *schemas, rt server.RouteDoc, o op) (*openapi3.Operation, error) {
	op := &openapi3.Operation{OperationID: o.id, Summary: rt.Summary, Tags: []string{o.tag}, Responses: openapi3.NewResponses()}
	authed := rt.Scope != server.ScopePublic
	if authed {
		op.Security = &openapi3.SecurityRequirements{{"apiKey": {}}, {"sessionToken": {}}}
		op.Extensions = map[string]any{"x-baton-scope": rt.Scope}
	} else {
		op.Security = &openapi3.SecurityRequirements{} // security: [] — no credential
	}

	// Parameters: path, query, headers.
	for _, seg := range strings.Split(rt.Path, "/") {
		if name, ok := strings.CutPrefix(seg, "{"); ok {
			name = strings.TrimSuffix(name, "}")
			p := &openapi3.Parameter{Name: name, In: "path", Required: true, Schema: openapi3.NewStringSchema().NewRef()}
			switch name {
			case "key":
				p.Description = "The step's key, URL-escaped (1–200 printable characters)."
			case "name":
				p.Description = "The signal's name (1–200 printable characters)."
			}
			op.Parameters = append(op.Parameters, &openapi3.ParameterRef{Value: p})
		}
	}
	for _, q := range rt.Query {
		if q == "limit" {
			op.Parameters = append(op.Parameters, &openapi3.ParameterRef{Ref: "#/components/parameters/limit"})
			continue
		}
		d, ok := queryParams[q]
		if !ok {
			return nil, fmt.Errorf("query parameter %q is not described", q)
		}
		p := &openapi3.Parameter{Name: q, In: "query", Description: d.desc}
		if q == "label" {
			p.Schema = openapi3.NewArraySchema().WithItems(openapi3.NewStringSchema()).NewRef()
			p.Style, p.Explode = "form", new(true)
		} else {
			p.Schema = d.schema.NewRef()
		}
		op.Parameters = append(op.Parameters, &openapi3.ParameterRef{Value: p})
	}
	op.Parameters = append(op.Parameters, &openapi3.ParameterRef{Ref: "#/components/parameters/X-Request-Id"})
	if authed {
		op.Parameters = append(op.Parameters, &openapi3.ParameterRef{Ref: "#/components/parameters/Baton-Workspace"})
	}
	if slices.Contains(o.extra, 200) && rt.Method == "POST" {
		op.Parameters = append(op.Parameters, &openapi3.ParameterRef{Ref: "#/components/parameters/Idempotency-Key"})
	}
	if rt.Path == "/v1/tasks/{id}/events" {
		op.Parameters = append(op.Parameters, &openapi3.ParameterRef{Value: &openapi3.Parameter{Name: "Last-Event-ID", In: "header",
			Description: "With Accept: text/event-stream: resume after this event id (a seq).",
			Schema:      openapi3.NewStringSchema().WithPattern(`^[0-9]+$`).NewRef()}})
	}

	// Request body.
	if rt.Request != nil {
		ref, err := sg.ref(rt.Request)
		if err != nil {
			return nil, err
		}
		op.RequestBody = &openapi3.RequestBodyRef{Value: &openapi3.RequestBody{
			Required: !emptyBodyAllowed(rt),
			Content:  openapi3.NewContentWithJSONSchemaRef(ref)}}
	}

	// Success responses.
	successHeaders := func() openapi3.Headers {
		h := openapi3.Headers{"X-Request-Id": headerRef("X-Request-Id")}
		if authed {
			h["RateLimit-Policy"] = headerRef("RateLimit-Policy")
			h["RateLimit"] = headerRef("RateLimit")
		}
		return h
	}
	content, err := successContent(sg, rt)
	if err != nil {
		return nil, err
	}
	desc := http.StatusText(rt.Status)
	if o.id == "tasks.submit" || o.id == "tasks.signal" {
		desc = "Created"
	}
	op.Responses.Set(strconv.Itoa(rt.Status), &openapi3.ResponseRef{Value: &openapi3.Response{
		Description: new(desc), Headers: successHeaders(), Content: content}})
	if slices.Contains(o.extra, 200) && rt.Status != 200 {
		op.Responses.Set("200", &openapi3.ResponseRef{Value: &openapi3.Response{
			Description: new("An idempotent replay: the Idempotency-Key was used before with the same body; the first answer, created nothing."),
			Headers:     successHeaders(), Content: content}})
	}

	// Problem responses.
	statuses := []int{400, 500}
	if authed {
		statuses = append(statuses, 401, 403, 429, 503)
	}
	if strings.Contains(rt.Path, "{") || authed {
		// A path id not in the workspace; an operator key's Baton-Workspace naming no workspace.
		statuses = append(statuses, 404)
	}
	if rt.Request != nil {
		statuses = append(statuses, 408, 413, 422)
	}
	for _, s := range o.extra {
		if s >= 400 {
			statuses = append(statuses, s)
		}
	}
	slices.Sort(statuses)
	for _, s := range slices.Compact(statuses) {
		if s == 503 && rt.Path == "/readyz" {
			continue
		}
		p, ok := problemResponses[s]
		if !ok {
			return nil, fmt.Errorf("no problem response for %d", s)
		}
		op.Responses.Set(strconv.Itoa(s), &openapi3.ResponseRef{Ref: "#/components/responses/" + p.name})
	}
	if rt.Path == "/readyz" {
		h, err := sg.ref(api.Health{})
		if err != nil {
			return nil, err
		}
		op.Responses.Set("503", &openapi3.ResponseRef{Value: &openapi3.Response{
			Description: new("Not ready: the server drains or the store is unreachable."),
			Headers:     successHeaders(), Content: openapi3.NewContentWithJSONSchemaRef(h)}})
	}
	if rt.Path == "/metrics" {
		op.Responses.Set("401", &openapi3.ResponseRef{Value: &openapi3.Response{
			Description: new("BATON_METRICS_TOKEN is set and the request does not carry it."),
			Headers: openapi3.Headers{"X-Request-Id": headerRef("X-Request-Id"),
				"WWW-Authenticate": {Value: &openapi3.Header{Parameter: openapi3.Parameter{Schema: openapi3.NewStringSchema().NewRef()}}}},
			Content: openapi3.Content{api.ProblemContentType: &openapi3.MediaType{Schema: problemRef()}}}})
	}
	return op, nil
}

// emptyBodyAllowed: routes whose body may be left out entirely.
func emptyBodyAllowed(rt server.RouteDoc) bool {
	switch rt.Path {
	case "/v1/keys/{id}/rotate", "/v1/tasks/{id}/retry", "/v1/tasks/{id}/signals/{name}":
		return true
	}
	return false
}

// successContent is the body of a route's success response.
func successContent(sg *schemas, rt server.RouteDoc) (openapi3.Content, error) {
	switch rt.Path {
	case "/docs/errors":
		return openapi3.Content{"text/html": &openapi3.MediaType{Schema: openapi3.NewStringSchema().NewRef()}}, nil
	case "/metrics":
		return openapi3.Content{"text/plain": &openapi3.MediaType{Schema: openapi3.NewStringSchema().NewRef()}}, nil
	case "/openapi.json":
		return openapi3.NewContentWithJSONSchema(openapi3.NewObjectSchema()), nil
	case "/v1/tasks/{id}/events":
		list, err := sg.ref(rt.Response)
		if err != nil {
			return nil, err
		}
		c := openapi3.NewContentWithJSONSchemaRef(list)
		c["text/event-stream"] = sse(
			"With Accept: text/event-stream the task's events follow live. Each SSE event has `id:` (the event's seq; "+
				"send it back as Last-Event-ID to resume), `event:` state, log, step or stream with a TaskEvent as `data:`, and "+
				"once the task has ended and every event is sent, `event: end` with `{\"status\": …}`; keep-alive "+
				"comments come every 15 s.",
			map[string]string{"state": "TaskEvent", "log": "TaskEvent", "step": "TaskEvent", "stream": "TaskEvent", "end": "StreamEnd"})
		return c, nil
	case "/v1/usage/stream":
		if _, err := sg.ref(rt.Response); err != nil {
			return nil, err
		}
		return openapi3.Content{"text/event-stream": sse(
			"Server-sent events: `event: quota` with a Quota snapshot as `data:` on every change (at most 4 a second); "+
				"a keep-alive comment every 15 s. Snapshots are absolute: a client that reconnects loses nothing.",
			map[string]string{"quota": "Quota"})}, nil
	}
	if rt.Response == nil {
		return nil, nil
	}
	ref, err := sg.ref(rt.Response)
	if err != nil {
		return nil, err
	}
	return openapi3.NewContentWithJSONSchemaRef(ref), nil
}

// sse is a text/event-stream media type; x-baton-events maps each event
// name to the schema of its data.
func sse(desc string, events map[string]string) *openapi3.MediaType {
	ev := map[string]any{}
	for name, schema := range events {
		ev[name] = "#/components/schemas/" + schema
	}
	return &openapi3.MediaType{
		Schema:     &openapi3.SchemaRef{Value: &openapi3.Schema{Type: &openapi3.Types{"string"}, Description: desc}},
		Extensions: map[string]any{"x-baton-events": ev},
	}
}
