package auth

import (
	"fmt"
	"slices"

	"github.com/genericcorp/baton/pkg/api"
)

// Allows reports whether a credential holding scopes may use a route that
// requires scope. "admin" allows everything; "*" allows every workspace
// scope; "worker:all" (a shared worker's operator key) allows "worker".
func Allows(scopes []string, scope string) bool {
	if slices.Contains(scopes, api.ScopeAdmin) {
		return true
	}
	if scope == api.ScopeAdmin {
		return false
	}
	if scope == api.ScopeWorker && slices.Contains(scopes, api.ScopeWorkerAll) {
		return true
	}
	return slices.Contains(scopes, api.ScopeAll) || slices.Contains(scopes, scope)
}

// ValidateScopes checks scopes requested for a new workspace key: each must
// be a workspace scope, and the creator (holding granter scopes) must hold
// it too, so a key can never mint a more powerful key than itself. It
// returns the scopes sorted and without duplicates.
func ValidateScopes(requested, granter []string) ([]string, []api.FieldError) {
	var errs []api.FieldError
	if len(requested) == 0 {
		return nil, []api.FieldError{{Field: "scopes", Message: "at least one scope is required"}}
	}
	out := make([]string, 0, len(requested))
	for i, s := range requested {
		field := fmt.Sprintf("scopes[%d]", i)
		switch {
		case !slices.Contains(api.WorkspaceScopes, s):
			errs = append(errs, api.FieldError{Field: field, Message: fmt.Sprintf("unknown scope %q", s)})
		case s == api.ScopeAll && !slices.Contains(granter, api.ScopeAll) && !slices.Contains(granter, api.ScopeAdmin):
			errs = append(errs, api.FieldError{Field: field, Message: `only a key with scope "*" can grant "*"`})
		case !Allows(granter, s):
			errs = append(errs, api.FieldError{Field: field, Message: fmt.Sprintf("you cannot grant %q: your key lacks it", s)})
		default:
			out = append(out, s)
		}
	}
	slices.Sort(out)
	return slices.Compact(out), errs
}
