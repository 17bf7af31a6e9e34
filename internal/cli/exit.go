package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/genericcorp/baton/internal/cli/cmdutil"
	"github.com/genericcorp/baton/pkg/api"
	"github.com/genericcorp/baton/pkg/client"
)

// exitCode maps an error to the exit codes of CONTRACT.md. Every command's
// error passes through here, so the mapping lives in one place.
func exitCode(ctx context.Context, err error) int {
	var (
		flagErr *cmdutil.FlagError
		exitErr *cmdutil.ExitError
		apiErr  *client.APIError
		authErr *cmdutil.AuthError
	)
	switch {
	case err == nil:
		return cmdutil.ExitOK
	case errors.As(err, &exitErr):
		return exitErr.Code
	case errors.Is(err, context.Canceled) && ctx.Err() != nil:
		return cmdutil.ExitInterrupted
	case errors.As(err, &flagErr), isCobraUsageError(err):
		return cmdutil.ExitUsage
	case errors.As(err, &authErr):
		return cmdutil.ExitAuth
	case errors.As(err, &apiErr):
		if needsWorkspace(apiErr) {
			return cmdutil.ExitUsage // a missing --workspace, as the server found
		}
		switch apiErr.Code {
		case api.CodeNotFound:
			return cmdutil.ExitNotFound
		case api.CodeUnauthenticated, api.CodeForbidden, api.CodeWorkspaceSuspended:
			return cmdutil.ExitAuth
		case api.CodeRateLimited:
			return cmdutil.ExitRateLimited
		case api.CodeQuotaExceeded:
			return cmdutil.ExitQuota
		}
	}
	return cmdutil.ExitFailure
}

// isCobraUsageError recognises cobra's own usage errors, which it returns
// as plain errors.
func isCobraUsageError(err error) bool {
	msg := err.Error()
	for _, p := range []string{"unknown command ", "unknown flag", "unknown shorthand flag", "flag needs an argument", "invalid argument ", "required flag", "if any flags in the group"} {
		if strings.HasPrefix(msg, p) {
			return true
		}
	}
	return false
}

// errorEnvelope is the JSON form of an error on stderr in JSON mode.
type errorEnvelope struct {
	Error errorBody `json:"error"`
}

type errorBody struct {
	Code      string           `json:"code"`
	Message   string           `json:"message"`
	RequestID string           `json:"request_id,omitempty"`
	Hint      string           `json:"hint,omitempty"`
	Fields    []api.FieldError `json:"fields,omitempty"`
}

// printError writes err to stderr: as JSON in JSON mode, else as text with
// the hint and request id.
func printError(f *cmdutil.Factory, ctx context.Context, err error, code int) {
	if errors.Is(err, cmdutil.ErrSilent) {
		return
	}
	var exitErr *cmdutil.ExitError
	if errors.As(err, &exitErr) && exitErr.Err == nil {
		return
	}
	body := errorBody{Code: localCode(code), Message: err.Error(), Hint: hintFor(err, code)}
	var apiErr *client.APIError
	if errors.As(err, &apiErr) {
		body.Code, body.RequestID, body.Fields = string(apiErr.Code), apiErr.RequestID, apiErr.Errors
		body.Message = apiErr.Detail
		if body.Message == "" {
			body.Message = apiErr.Title
		}
	}
	if code == cmdutil.ExitInterrupted {
		body.Message = "interrupted"
	}
	w := f.IOStreams.ErrOut
	if f.JSONOutput() {
		b, _ := json.Marshal(errorEnvelope{Error: body})
		fmt.Fprintln(w, string(b))
		return
	}
	fmt.Fprintf(w, "error: %s\n", body.Message)
	for _, fe := range body.Fields {
		fmt.Fprintf(w, "  %s: %s\n", fe.Field, fe.Message)
	}
	if body.Hint != "" {
		fmt.Fprintf(w, "hint: %s\n", body.Hint)
	}
	if body.RequestID != "" {
		fmt.Fprintf(w, "request id: %s\n", body.RequestID)
	}
}

func localCode(exit int) string {
	switch exit {
	case cmdutil.ExitUsage:
		return "usage"
	case cmdutil.ExitAuth:
		return string(api.CodeUnauthenticated)
	case cmdutil.ExitInterrupted:
		return "interrupted"
	case cmdutil.ExitWaitTimeout:
		return "wait_timeout"
	}
	return "error"
}

func hintFor(err error, code int) string {
	var h *cmdutil.HintError
	if errors.As(err, &h) {
		return h.Hint
	}
	var apiErr *client.APIError
	if errors.As(err, &apiErr) {
		if needsWorkspace(apiErr) {
			return "an operator key acts on one workspace here: pass --workspace ID (or set BATON_WORKSPACE)"
		}
		switch apiErr.Code {
		case api.CodeUnauthenticated:
			return "check the key with `baton auth status`, or log in again with `baton login`"
		case api.CodeRateLimited, api.CodeQuotaExceeded:
			if apiErr.RetryAfter > 0 {
				return fmt.Sprintf("retry after %s", apiErr.RetryAfter.Round(1e9))
			}
		}
	}
	if code == cmdutil.ExitUsage {
		return "see --help"
	}
	return ""
}

// needsWorkspace reports the server's answer to an operator key that named
// no workspace on a route that acts on one: the Baton-Workspace field.
func needsWorkspace(e *client.APIError) bool {
	if e.Code != api.CodeInvalidRequest {
		return false
	}
	for _, fe := range e.Errors {
		if fe.Field == api.HeaderWorkspace {
			return true
		}
	}
	return false
}
