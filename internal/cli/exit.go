package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strings"
	"syscall"

	"github.com/genericcorp/baton/internal/cli/cmdutil"
	"github.com/genericcorp/baton/pkg/api"
	"github.com/genericcorp/baton/pkg/client"
	"github.com/genericcorp/baton/pkg/config"
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
	if code == cmdutil.ExitInterrupted && !f.JSONOutput() {
		return // Ctrl-C: the user knows; exit 130 says it to scripts
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
	if msg, hint, ok := unreachable(f, err); ok {
		body.Code, body.Message, body.Hint = "unreachable", msg, hint
	}
	body.Message = plainFlagError(body.Message)
	w := f.IOStreams.ErrOut
	if f.JSONOutput() {
		b, _ := json.Marshal(errorEnvelope{Error: body})
		fmt.Fprintln(w, string(b))
		return
	}
	fmt.Fprintf(w, "error: %s\n", body.Message)
	for _, fe := range body.Fields {
		if strings.Contains(body.Message, fe.Message) {
			continue // the detail says it already
		}
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

// unreachable recognises a request that could not reach the server
// (connection refused, no such host, dial timeout) and says so with the
// server's URL, where that URL came from and what to do.
func unreachable(f *cmdutil.Factory, err error) (msg, hint string, ok bool) {
	var opErr *net.OpError
	var dnsErr *net.DNSError
	switch {
	case errors.As(err, &dnsErr):
		msg = "no such host " + dnsErr.Name
	case errors.As(err, &opErr) && opErr.Op == "dial":
		msg = "connection refused"
		if !errors.Is(err, syscall.ECONNREFUSED) {
			msg = opErr.Err.Error()
		}
	default:
		return "", "", false
	}
	target := ""
	var urlErr *url.Error
	if errors.As(err, &urlErr) {
		if u, perr := url.Parse(urlErr.URL); perr == nil {
			target = u.Scheme + "://" + u.Host
		}
	}
	where := target
	if r, rerr := f.Resolved(); rerr == nil && (target == "" || target == r.Server) {
		from := map[string]string{config.SourceFlag: "--server", config.SourceEnv: config.EnvServer,
			config.SourceConfig: "profile " + r.Profile, config.SourceDefault: "the default"}[r.Source["server"]]
		where = fmt.Sprintf("%s (from %s)", r.Server, from)
	}
	return fmt.Sprintf("cannot reach the server at %s: %s", where, msg),
		"is it running? Start a local one with `baton dev`, or point --server (BATON_SERVER) at yours; `baton doctor` checks the setup", true
}

// strconvErr matches what pflag says of a value that is not a number
// ("invalid argument "abc" for "--limit" flag: strconv.ParseInt: parsing
// "abc": invalid syntax").
var strconvErr = regexp.MustCompile(`^invalid argument "(.*)" for "(.*)" flag: strconv\.Parse(Int|Uint|Float|Bool): parsing ".*": (invalid syntax|value out of range)$`)

// plainFlagError rewords pflag's strconv errors for a person:
// `invalid value "abc" for --limit: not a whole number`.
func plainFlagError(msg string) string {
	m := strconvErr.FindStringSubmatch(msg)
	if m == nil {
		return msg
	}
	what := map[string]string{"Int": "not a whole number", "Uint": "not a whole number ≥ 0", "Float": "not a number", "Bool": "not true or false"}[m[3]]
	if m[4] == "value out of range" {
		what = "out of range"
	}
	flag := m[2]
	if i := strings.Index(flag, ", --"); i >= 0 { // "-n, --limit"
		flag = flag[i+2:]
	}
	return fmt.Sprintf("invalid value %q for %s: %s", m[1], flag, what)
}
