package server

import "github.com/genericcorp/baton/pkg/api"

// RouteDoc is one entry of the route table as the API document generator
// (internal/openapi) sees it. The table in routes.go stays the one list of
// routes: the document is generated from it, never written by hand.
type RouteDoc struct {
	Method, Path string
	// Scope is "" for a public route, "any" for any valid credential, or
	// the api.Scope* the credential needs.
	Scope   string
	Summary string
	Query   []string
	// Request and Response are zero values of the body types (nil: none).
	Request, Response any
	Status            int
	// Stream marks routes that hold the request open (long poll, SSE).
	Stream bool
}

// Scope values of RouteDoc beyond the API scopes.
const (
	ScopePublic = public
	ScopeAny    = anyAuth
)

// Routes lists every route of the API, in the route table's order.
func Routes() []RouteDoc {
	s := &Server{} // the table names handlers; none is called
	var out []RouteDoc
	for _, rt := range s.routeTable() {
		out = append(out, RouteDoc{Method: rt.method, Path: rt.path, Scope: rt.scope, Summary: rt.summary,
			Query: rt.query, Request: rt.request, Response: rt.response, Status: rt.status, Stream: rt.stream})
	}
	return out
}

// Bounds are the limits that the server enforces on requests, for the
// document's minimum, maximum and maxLength.
type Bounds struct {
	MaxPriority, MaxAttempts, MaxLabels, MaxLabelValue, MaxIdempotencyKey int
	MaxClaimWait, MaxClaimTasks, MaxLogLines, DefaultLimit, MaxLimit      int
	MaxTimeoutSeconds, MaxTaskCostMicros, MaxUsageTokens, MaxUsageCost    int64
	MaxBodyBytes, MaxTaskInputBytes                                       int64
}

// DocBounds returns the server's request bounds.
func DocBounds() Bounds {
	return Bounds{MaxPriority: maxPriority, MaxAttempts: maxAttemptCap, MaxLabels: maxLabels, MaxLabelValue: maxLabelValue,
		MaxIdempotencyKey: maxIdemKey, MaxClaimWait: maxClaimWait, MaxClaimTasks: maxClaimTasks, MaxLogLines: maxLogLines,
		DefaultLimit: defaultLimit, MaxLimit: maxLimit, MaxTimeoutSeconds: api.MaxTimeoutSeconds,
		MaxTaskCostMicros: api.MaxTaskCostMicros, MaxUsageTokens: api.MaxUsageTokens, MaxUsageCost: api.MaxUsageCostMicros,
		MaxBodyBytes: 1 << 20, MaxTaskInputBytes: api.MaxTaskInputBytes}
}
