// Package apicmd is `baton api`, as `gh api`: any API route with the
// profile's credentials, JSON in and out, lists followed across pages with
// --paginate and event streams (SSE) copied as they arrive.
package apicmd

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/genericcorp/baton/internal/cli/cmdutil"
	"github.com/genericcorp/baton/internal/output"
	"github.com/genericcorp/baton/internal/version"
	"github.com/genericcorp/baton/pkg/api"
	"github.com/genericcorp/baton/pkg/client"
)

// Options are the inputs of `baton api`.
type Options struct {
	Factory *cmdutil.Factory
	Method  string
	Path    string
	// RawFields are -f key=value (strings); TypedFields are -F key=value
	// (true, false, null, numbers, @FILE read as a string).
	RawFields   []string
	TypedFields []string
	Headers     []string
	// Input is --input FILE ("-" for standard input): the request body.
	Input    string
	Paginate bool
	// Include prints the response's status line and headers first.
	Include bool

	methodSet bool
}

var methods = []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodHead}

// NewCmdAPI returns `baton api`. runF replaces the run logic in tests.
func NewCmdAPI(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{Factory: f}
	cmd := &cobra.Command{
		Use:   "api [METHOD] PATH [-f key=value]... [--input FILE] [--paginate]",
		Short: "Make an authenticated request to the baton API",
		Long: `Make a request to any route of the baton API with the credentials of the
current profile (--server, --api-key, --workspace apply) and print the
response: JSON on a terminal is indented, piped it is printed as it came.

METHOD is GET, or POST when fields or --input are given (GET with
--paginate). PATH starts with
/v1/… (or /healthz, /openapi.json); "v1/tasks" works too.

-f key=value adds a string field, -F key=value a typed one (true, false,
null, a number, or @FILE for a file's text). For GET and DELETE the fields
are query parameters; otherwise they make the JSON body. --input FILE sends
the file (or standard input with -) as the body instead.

--paginate follows next_cursor until the last page and prints one JSON array
of every item (the data of each page). A route that streams Server-Sent
Events (GET /v1/tasks/{id}/events) is copied line by line as events arrive,
until the stream ends or Ctrl-C.

--jq and --template apply to the JSON response. A response with an error
status prints its problem document on stdout, and the error on stderr with
the exit code of the problem's code (see ` + "`baton help exit-codes`" + `).`,
		Example: `  baton api /v1/me
  baton api /v1/tasks --paginate --jq '.[].id'
  baton api /v1/tasks -f status=failed -f limit=5
  baton api POST /v1/tasks -F input=@input.json -f queue=email
  baton api POST /v1/tasks --input task.json
  baton api /v1/tasks/task_01jd…/events`,
		Args: func(cmd *cobra.Command, args []string) error {
			switch len(args) {
			case 1:
				opts.Path = args[0]
			case 2:
				opts.Method, opts.Path, opts.methodSet = strings.ToUpper(args[0]), args[1], true
				if !slices.Contains(methods, opts.Method) {
					return cmdutil.FlagErrorf("unknown method %q: use one of %s", args[0], strings.Join(methods, ", "))
				}
			default:
				return cmdutil.FlagErrorf("want [METHOD] PATH, e.g. `baton api /v1/me` or `baton api POST /v1/tasks -f queue=email`")
			}
			return nil
		},
		ValidArgsFunction: completePaths(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !opts.methodSet {
				opts.Method = http.MethodGet
				if !opts.Paginate && (len(opts.RawFields)+len(opts.TypedFields) > 0 || opts.Input != "") {
					opts.Method = http.MethodPost
				}
			}
			if opts.Input != "" && len(opts.RawFields)+len(opts.TypedFields) > 0 && opts.Method != http.MethodGet {
				return cmdutil.FlagErrorf("--input and -f/-F both make the body: give one")
			}
			if opts.Paginate && opts.Method != http.MethodGet {
				return cmdutil.FlagErrorf("--paginate follows GET lists only")
			}
			if !strings.HasPrefix(opts.Path, "/") {
				opts.Path = "/" + opts.Path
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return run(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringArrayVarP(&opts.RawFields, "raw-field", "f", nil, "add a string field key=value (repeatable)")
	fl.StringArrayVarP(&opts.TypedFields, "field", "F", nil, "add a typed field key=value: true, false, null, a number or @FILE (repeatable)")
	fl.StringArrayVarP(&opts.Headers, "header", "H", nil, "add a request header key:value (repeatable)")
	fl.StringVar(&opts.Input, "input", "", "the request body from FILE (- for standard input)")
	fl.BoolVar(&opts.Paginate, "paginate", false, "follow next_cursor and print every item as one JSON array")
	fl.BoolVarP(&opts.Include, "include", "i", false, "print the status line and headers before the body")
	return cmd
}

// fields turns -f and -F into a map. Errors: FlagError.
func (opts *Options) fields() (map[string]any, error) {
	out := map[string]any{}
	add := func(kv string, typed bool) error {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return cmdutil.FlagErrorf("field %q: want key=value", kv)
		}
		if !typed {
			out[k] = v
			return nil
		}
		val, err := typedValue(v)
		if err != nil {
			return cmdutil.FlagErrorf("-F %s: %v", k, err)
		}
		out[k] = val
		return nil
	}
	for _, kv := range opts.RawFields {
		if err := add(kv, false); err != nil {
			return nil, err
		}
	}
	for _, kv := range opts.TypedFields {
		if err := add(kv, true); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// typedValue is what -F makes of a value: true, false, null, an integer
// or a number, the text of @FILE (a JSON value when the file holds JSON),
// else the string.
func typedValue(v string) (any, error) {
	switch v {
	case "true":
		return true, nil
	case "false":
		return false, nil
	case "null":
		return nil, nil
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		return n, nil
	}
	if n, err := strconv.ParseFloat(v, 64); err == nil {
		return n, nil
	}
	if file, ok := strings.CutPrefix(v, "@"); ok {
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, err
		}
		if json.Valid(b) {
			return json.RawMessage(bytes.TrimSpace(b)), nil
		}
		return string(b), nil
	}
	return v, nil
}

// request is one prepared request.
type request struct {
	method string
	url    *url.URL
	body   []byte
	header http.Header
}

func (opts *Options) build(server, key, workspace string) (*request, error) {
	u, err := url.Parse(server + opts.Path)
	if err != nil {
		return nil, cmdutil.FlagErrorf("path %q: %v", opts.Path, err)
	}
	fields, err := opts.fields()
	if err != nil {
		return nil, err
	}
	r := &request{method: opts.Method, url: u, header: http.Header{}}
	switch {
	case opts.Input != "":
		r.body, err = readInput(opts.Factory, opts.Input)
		if err != nil {
			return nil, err
		}
		if opts.Method == http.MethodGet {
			r.method = http.MethodPost
		}
	case len(fields) > 0 && (opts.Method == http.MethodGet || opts.Method == http.MethodDelete || opts.Method == http.MethodHead):
		q := u.Query()
		keys := make([]string, 0, len(fields))
		for k := range fields {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			q.Set(k, fmt.Sprint(fields[k]))
		}
		u.RawQuery = q.Encode()
	case len(fields) > 0:
		r.body, err = json.Marshal(fields)
		if err != nil {
			return nil, fmt.Errorf("encode fields: %w", err)
		}
	}
	r.header.Set("User-Agent", "baton-cli/"+version.Get().Version)
	r.header.Set("Accept", "application/json, text/event-stream")
	if r.body != nil {
		r.header.Set("Content-Type", "application/json")
	}
	if key != "" {
		r.header.Set("Authorization", "Bearer "+key)
	}
	if workspace != "" {
		r.header.Set(api.HeaderWorkspace, workspace)
	}
	for _, h := range opts.Headers {
		k, v, ok := strings.Cut(h, ":")
		if !ok || strings.TrimSpace(k) == "" {
			return nil, cmdutil.FlagErrorf("-H %q: want key:value", h)
		}
		r.header.Set(strings.TrimSpace(k), strings.TrimSpace(v))
	}
	return r, nil
}

func readInput(f *cmdutil.Factory, name string) ([]byte, error) {
	if name == "-" {
		b, err := io.ReadAll(f.IOStreams.In)
		if err != nil {
			return nil, fmt.Errorf("read standard input: %w", err)
		}
		return b, nil
	}
	b, err := os.ReadFile(name)
	if err != nil {
		return nil, cmdutil.FlagErrorf("--input: %v", err)
	}
	return b, nil
}

// run sends the request (every page with --paginate) and prints the
// response. Errors: FlagError, the response's *client.APIError, network
// errors.
func run(ctx context.Context, opts *Options) error {
	f := opts.Factory
	p, err := f.Printer()
	if err != nil {
		return err
	}
	r, err := f.Resolved()
	if err != nil {
		return err
	}
	req, err := opts.build(r.Server, r.APIKey, r.Workspace)
	if err != nil {
		return err
	}
	if opts.Paginate {
		return paginate(ctx, f, p, req)
	}
	resp, err := send(ctx, f, req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if opts.Include {
		fmt.Fprintf(f.IOStreams.Out, "%s %s\n", resp.Proto, resp.Status)
		keys := make([]string, 0, len(resp.Header))
		for k := range resp.Header {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(f.IOStreams.Out, "%s: %s\n", k, strings.Join(resp.Header[k], ", "))
		}
		fmt.Fprintln(f.IOStreams.Out)
	}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") && resp.StatusCode < 300 {
		return stream(ctx, f, resp.Body)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("read response: %w", err)
	}
	if resp.StatusCode >= 300 {
		writeBody(f, p, body, false)
		return client.ResponseError(resp, body)
	}
	return writeBody(f, p, body, true)
}

func send(ctx context.Context, f *cmdutil.Factory, r *request) (*http.Response, error) {
	var body io.Reader
	if r.body != nil {
		body = bytes.NewReader(r.body)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, r.url.String(), body)
	if err != nil {
		return nil, cmdutil.FlagErrorf("request: %v", err)
	}
	req.Header = r.header.Clone()
	if f.Globals.Debug {
		fmt.Fprintf(f.IOStreams.ErrOut, "> %s %s\n", r.method, r.url.String())
	}
	resp, err := f.HTTPClient.Do(req)
	if err != nil {
		return nil, err
	}
	if f.Globals.Debug {
		fmt.Fprintf(f.IOStreams.ErrOut, "< %s (%s)\n", resp.Status, resp.Header.Get(api.HeaderRequestID))
	}
	return resp, nil
}

// writeBody prints a response body: through --jq/--template when given and
// the body is JSON (filter), indented on a terminal, else as it came.
func writeBody(f *cmdutil.Factory, p *output.Printer, body []byte, filter bool) error {
	out := f.IOStreams.Out
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	if !json.Valid(body) {
		_, err := out.Write(body)
		return err
	}
	if filter && p.Filtered() {
		return p.Print(json.RawMessage(body), nil)
	}
	if f.IOStreams.IsStdoutTTY() {
		var b bytes.Buffer
		if err := json.Indent(&b, bytes.TrimSpace(body), "", "  "); err == nil {
			b.WriteByte('\n')
			_, err := out.Write(b.Bytes())
			return err
		}
	}
	if _, err := out.Write(body); err != nil {
		return err
	}
	if body[len(body)-1] != '\n' {
		_, err := out.Write([]byte("\n"))
		return err
	}
	return nil
}

// page is the shape of a list response.
type page struct {
	Data       []json.RawMessage `json:"data"`
	NextCursor *string           `json:"next_cursor"`
}

// paginate follows next_cursor from req and prints every item as one array.
func paginate(ctx context.Context, f *cmdutil.Factory, p *output.Printer, req *request) error {
	items := []json.RawMessage{}
	for {
		resp, err := send(ctx, f, req)
		if err != nil {
			return err
		}
		body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
		resp.Body.Close()
		if err != nil {
			return fmt.Errorf("read response: %w", err)
		}
		if resp.StatusCode >= 300 {
			writeBody(f, p, body, false)
			return client.ResponseError(resp, body)
		}
		var pg page
		if err := json.Unmarshal(body, &pg); err != nil || pg.Data == nil {
			return errors.New("--paginate: the response is not a list (no data array)")
		}
		items = append(items, pg.Data...)
		if pg.NextCursor == nil || *pg.NextCursor == "" {
			break
		}
		q := req.url.Query()
		q.Set("cursor", *pg.NextCursor)
		req.url.RawQuery = q.Encode()
	}
	b, err := json.Marshal(items)
	if err != nil {
		return fmt.Errorf("encode: %w", err)
	}
	return writeBody(f, p, b, true)
}

// stream copies an event stream line by line as it arrives, flushing
// each line, until the stream ends or ctx is done.
func stream(ctx context.Context, f *cmdutil.Factory, body io.Reader) error {
	sc := bufio.NewScanner(body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if _, err := fmt.Fprintln(f.IOStreams.Out, sc.Text()); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil && ctx.Err() == nil {
		return fmt.Errorf("read event stream: %w", err)
	}
	return ctx.Err()
}

// completionTimeout bounds fetching /openapi.json for a completion.
const completionTimeout = 3 * time.Second

// completePaths completes PATH from the server's /openapi.json (and METHOD
// as the first of two arguments).
func completePaths(f *cmdutil.Factory) func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		if len(args) > 1 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		var out []string
		if len(args) == 0 && !strings.HasPrefix(toComplete, "/") {
			for _, m := range methods {
				if strings.HasPrefix(m, strings.ToUpper(toComplete)) {
					out = append(out, m)
				}
			}
		}
		for _, p := range openAPIPaths(cmd.Context(), f) {
			if strings.HasPrefix(p, toComplete) {
				out = append(out, p)
			}
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}

// openAPIPaths returns the paths of the server's OpenAPI document, sorted;
// nothing on any error.
func openAPIPaths(ctx context.Context, f *cmdutil.Factory) []string {
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, cancel := context.WithTimeout(ctx, completionTimeout)
	defer cancel()
	r, err := f.Resolved()
	if err != nil {
		return nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.Server+"/openapi.json", nil)
	if err != nil {
		return nil
	}
	resp, err := f.HTTPClient.Do(req)
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	var doc struct {
		Paths map[string]json.RawMessage `json:"paths"`
	}
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&doc) != nil {
		return nil
	}
	paths := make([]string, 0, len(doc.Paths))
	for p := range doc.Paths {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	return paths
}
