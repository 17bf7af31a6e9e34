package store

import (
	"context"
	"slices"
	"strings"
)

// Scope is the set of workspaces a unit of work may touch. The PostgreSQL
// store hands it to the database as the transaction-local setting
// baton.workspace_id, which its row-level security policies read: a
// statement run under a tenant's scope sees and writes only that tenant's
// rows, whatever its WHERE clause says (a second wall behind the
// workspace predicates every query carries). The SQLite store has no row
// security and ignores it.
//
// A context without a scope is system work (migrations, the reaper, the
// retention job, operator routes): nothing narrows it. Handlers serving a
// workspace's own key narrow the request's context with Tenant.
type Scope struct {
	all bool
	ids []string
}

// SystemScope is the scope of cross-tenant work, taken on an explicit,
// separate path: shared-worker claims, the reaper, admin reports.
func SystemScope() Scope { return Scope{all: true} }

// TenantScope is the scope of the given workspaces (a batch of several
// tenants' transitions). No id, or AnyWorkspace among them, is the
// system scope: AnyWorkspace is how an operator addresses every workspace.
func TenantScope(ids ...string) Scope {
	if len(ids) == 0 || slices.Contains(ids, AnyWorkspace) {
		return SystemScope()
	}
	s := slices.Clone(ids)
	slices.Sort(s)
	return Scope{ids: slices.Compact(s)}
}

// System reports whether s is the system scope.
func (s Scope) System() bool { return s.all }

// Setting is the value of baton.workspace_id for s: "*" for the system
// scope, else the workspace ids, comma-separated (ids never hold commas).
func (s Scope) Setting() string {
	if s.all {
		return "*"
	}
	return strings.Join(s.ids, ",")
}

type scopeKey struct{}

// Tenant narrows ctx to workspace id unless ctx already has a scope: the
// outermost scope wins, so a tenant's request cannot be re-scoped by a
// handler further in. System work needs no mark: a context without a
// scope is system work (SystemScope).
func Tenant(ctx context.Context, id string) context.Context {
	if _, ok := ScopeOf(ctx); ok {
		return ctx
	}
	return context.WithValue(ctx, scopeKey{}, TenantScope(id))
}

// WithScope sets ctx's scope to s, replacing any: for work that is
// detached from its callers, as a group commit of several tenants'
// transitions is.
func WithScope(ctx context.Context, s Scope) context.Context {
	return context.WithValue(ctx, scopeKey{}, s)
}

// ScopeOf returns ctx's scope and whether it has one.
func ScopeOf(ctx context.Context) (Scope, bool) {
	s, ok := ctx.Value(scopeKey{}).(Scope)
	return s, ok
}
