package server

import (
	"net/http"

	"github.com/genericcorp/baton/pkg/api"
)

// Access levels of a route beyond the API scopes.
const (
	public  = ""    // no credential
	anyAuth = "any" // any valid credential
)

// handler serves one authenticated (or public) route. It returns a
// *api.Problem for a client error; any other error is a 500.
type handler func(w http.ResponseWriter, r *http.Request, p *principal) error

// route is one entry of the API: the mux pattern, who may call it, and what
// it takes and returns (for /openapi.json).
type route struct {
	method, path string
	scope        string // public, anyAuth, or an api.Scope*
	summary      string
	query        []string // documented query parameters
	request      any      // request body type, nil for none
	response     any      // 2xx body type, nil for none
	status       int      // success status
	// limit is the route's rate-limit class: limitAPI, limitWorker (the
	// default of scope worker) or limitToken.
	limit string
	h     handler
	// stream marks routes that hold the request open on purpose (long-poll
	// claim, event streams): the request timeout does not cut them.
	stream bool
	// noStore: the response can carry a credential (set by New from the
	// response type, see carriesSecret), so it is Cache-Control: no-store.
	noStore bool
}

func (s *Server) routeTable() []route {
	return []route{
		{method: "GET", path: "/healthz", scope: public, summary: "Liveness", response: api.Health{}, status: 200, h: s.handleHealthz},
		{method: "GET", path: "/readyz", scope: public, summary: "Readiness: the store is reachable and the server is not draining", response: api.Health{}, status: 200, h: s.handleReadyz},
		{method: "GET", path: "/docs/errors", scope: public, summary: "What each error code means (the target of a problem's type)", status: 200, h: s.handleErrorDocs},
		{method: "GET", path: "/metrics", scope: public, summary: "Prometheus metrics (cross-tenant: expose to the scraper only)", status: 200, h: s.handleMetrics},
		{method: "GET", path: "/openapi.json", scope: public, summary: "This document", status: 200, h: s.handleOpenAPI},

		{method: "POST", path: "/v1/auth/token", scope: anyAuth, summary: "Exchange an API key for a 15-minute session token", response: api.TokenResponse{}, status: 200, limit: limitToken, h: s.handleToken},
		{method: "GET", path: "/v1/me", scope: anyAuth, summary: "The caller's workspace, key and tier", response: api.Me{}, status: 200, h: s.handleMe},
		{method: "GET", path: "/v1/tiers", scope: anyAuth, summary: "Tiers and their limits", response: api.List[api.Tier]{}, status: 200, h: s.handleTiers},

		{method: "POST", path: "/v1/workspaces", scope: api.ScopeAdmin, summary: "Create a workspace and its first key", request: api.CreateWorkspaceRequest{}, response: api.CreateWorkspaceResponse{}, status: 201, h: s.handleCreateWorkspace},
		{method: "GET", path: "/v1/workspaces", scope: api.ScopeAdmin, summary: "List workspaces", query: []string{"limit", "cursor"}, response: api.List[api.Workspace]{}, status: 200, h: s.handleListWorkspaces},
		{method: "GET", path: "/v1/workspaces/{id}", scope: anyAuth, summary: "Get a workspace (a workspace key: its own only)", response: api.Workspace{}, status: 200, h: s.handleGetWorkspace},
		{method: "PATCH", path: "/v1/workspaces/{id}", scope: api.ScopeAdmin, summary: "Change name, tier, overrides or status", request: api.UpdateWorkspaceRequest{}, response: api.Workspace{}, status: 200, h: s.handleUpdateWorkspace},
		{method: "DELETE", path: "/v1/workspaces/{id}", scope: api.ScopeAdmin, summary: "Delete a workspace and its keys", status: 204, h: s.handleDeleteWorkspace},

		{method: "POST", path: "/v1/keys", scope: api.ScopeKeysWrite, summary: "Create an API key (the secret is shown once)", request: api.CreateKeyRequest{}, response: api.Key{}, status: 201, h: s.handleCreateKey},
		{method: "GET", path: "/v1/keys", scope: api.ScopeKeysRead, summary: "List API keys", query: []string{"limit", "cursor"}, response: api.List[api.Key]{}, status: 200, h: s.handleListKeys},
		{method: "GET", path: "/v1/keys/{id}", scope: api.ScopeKeysRead, summary: "Get an API key", response: api.Key{}, status: 200, h: s.handleGetKey},
		{method: "DELETE", path: "/v1/keys/{id}", scope: api.ScopeKeysWrite, summary: "Revoke an API key", response: api.Key{}, status: 200, h: s.handleRevokeKey},
		{method: "POST", path: "/v1/keys/{id}/rotate", scope: api.ScopeKeysWrite, summary: "Rotate an API key; the old secret works until the grace period ends", request: api.RotateKeyRequest{}, response: api.Key{}, status: 200, h: s.handleRotateKey},

		{method: "POST", path: "/v1/tasks", scope: api.ScopeTasksWrite, summary: "Submit a task (header Idempotency-Key: same key and body return the same task)", request: api.SubmitTaskRequest{}, response: api.Task{}, status: 201, h: s.handleSubmitTask},
		{method: "GET", path: "/v1/tasks", scope: api.ScopeTasksRead, summary: "List tasks, newest first", query: []string{"status", "queue", "label", "limit", "cursor"}, response: api.List[api.Task]{}, status: 200, h: s.handleListTasks},
		{method: "GET", path: "/v1/tasks/{id}", scope: api.ScopeTasksRead, summary: "Get a task with its attempts and usage", response: api.Task{}, status: 200, h: s.handleGetTask},
		{method: "PATCH", path: "/v1/tasks/{id}", scope: api.ScopeTasksWrite, summary: "Raise a task's budget (a task waiting for budget resumes) or change its priority", request: api.UpdateTaskRequest{}, response: api.Task{}, status: 200, h: s.handleUpdateTask},
		{method: "POST", path: "/v1/tasks/{id}/retry", scope: api.ScopeTasksWrite, summary: "Run a finished (or operator-waiting) task again keeping its journal; from from_step on, steps run again", request: api.RetryTaskRequest{}, response: api.Task{}, status: 200, h: s.handleRetryTask},
		{method: "GET", path: "/v1/tasks/{id}/steps", scope: api.ScopeTasksRead, summary: "The task's journal of durable steps", response: api.StepList{}, status: 200, h: s.handleListSteps},
		{method: "POST", path: "/v1/tasks/{id}/signals/{name}", scope: api.ScopeTasksWrite, summary: "Send a signal (once per Idempotency-Key); a task waiting for it wakes", request: api.SignalRequest{}, response: api.Signal{}, status: 201, h: s.handleSignal},
		{method: "POST", path: "/v1/tasks/{id}/steps/{key}/begin", scope: api.ScopeWorker, summary: "Begin or replay a step of the current attempt (key URL-escaped)", request: api.StepBeginRequest{}, response: api.StepBeginResponse{}, status: 200, h: s.handleBeginStep},
		{method: "POST", path: "/v1/tasks/{id}/steps/{key}/end", scope: api.ScopeWorker, summary: "End a running step with its output or error and the attempt's usage", request: api.StepEndRequest{}, response: api.StepEndResponse{}, status: 200, h: s.handleEndStep},
		{method: "POST", path: "/v1/tasks/{id}/cancel", scope: api.ScopeTasksWrite, summary: "Cancel a queued or running task", response: api.Task{}, status: 200, h: s.handleCancelTask},
		{method: "GET", path: "/v1/tasks/{id}/events", scope: api.ScopeTasksRead, summary: "State changes and log lines; Accept: text/event-stream follows live, Last-Event-ID resumes", query: []string{"after"}, response: api.List[api.TaskEvent]{}, status: 200, h: s.handleTaskEvents, stream: true},
		{method: "POST", path: "/v1/tasks/claim", scope: api.ScopeWorker, summary: "Long-poll for tasks to run (an operator key claims from every workspace)", request: api.ClaimRequest{}, response: api.ClaimResponse{}, status: 200, h: s.handleClaim, stream: true},
		{method: "POST", path: "/v1/tasks/{id}/heartbeat", scope: api.ScopeWorker, summary: "Extend the lease; the answer says whether to stop", request: api.HeartbeatRequest{}, response: api.HeartbeatResponse{}, status: 200, h: s.handleHeartbeat},
		{method: "POST", path: "/v1/tasks/{id}/logs", scope: api.ScopeWorker, summary: "Append log lines of the current attempt", request: api.LogsRequest{}, status: 204, h: s.handleLogs},
		{method: "POST", path: "/v1/tasks/{id}/complete", scope: api.ScopeWorker, summary: "Finish the attempt with its output", request: api.CompleteRequest{}, response: api.Task{}, status: 200, h: s.handleComplete},
		{method: "GET", path: "/v1/workers", scope: api.ScopeTasksRead, summary: "Workers seen polling in the last minute (an operator key without Baton-Workspace: every worker)", response: api.List[api.Worker]{}, status: 200, h: s.handleWorkers},
		{method: "GET", path: "/v1/queues", scope: api.ScopeTasksRead, summary: "The workspace's queues: tasks queued, held, running and waiting, the oldest queued, and pollers", response: api.List[api.Queue]{}, status: 200, h: s.handleQueues},
		{method: "POST", path: "/v1/tasks/{id}/fail", scope: api.ScopeWorker, summary: "Fail the attempt; retried while attempts remain if retryable", request: api.FailRequest{}, response: api.Task{}, status: 200, h: s.handleFail},

		{method: "GET", path: "/v1/usage", scope: api.ScopeUsageRead, summary: "Usage series per metric by hour or day, and totals (default: this billing period by day)", query: []string{"from", "to", "granularity"}, response: api.UsageSeries{}, status: 200, h: s.handleUsage},
		{method: "GET", path: "/v1/usage/quota", scope: api.ScopeUsageRead, summary: "This billing period's use of every limit: used, limit, remaining, percent; running vs cap; held tasks", response: api.Quota{}, status: 200, h: s.handleQuota},
		{method: "GET", path: "/v1/usage/stream", scope: api.ScopeUsageRead, summary: "SSE: a quota snapshot (event quota) on every change, at most 4/s; keep-alive comment every 15 s", response: api.Quota{}, status: 200, h: s.handleUsageStream, stream: true},
		{method: "GET", path: "/v1/alerts", scope: api.ScopeUsageRead, summary: "The workspace's alerts, newest first: open ones, or all with state=all", query: []string{"state", "limit", "cursor"}, response: api.List[api.Alert]{}, status: 200, h: s.handleListAlerts},
		{method: "POST", path: "/v1/alerts/{id}/ack", scope: api.ScopeUsageRead, summary: "Acknowledge an alert (again: keeps the first time)", response: api.Alert{}, status: 200, h: s.handleAckAlert},
		{method: "GET", path: "/v1/admin/costs", scope: api.ScopeAdmin, summary: "Every workspace's revenue, cost and margin for a period (YYYY-MM), worst margin first", query: []string{"period"}, response: api.CostReport{}, status: 200, h: s.handleAdminCosts},
		{method: "GET", path: "/v1/admin/usage", scope: api.ScopeAdmin, summary: "Every workspace's quota snapshot, closest to a limit first", response: api.List[api.Quota]{}, status: 200, h: s.handleAdminUsage},
	}
}
