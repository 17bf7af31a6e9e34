package tasks

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/genericcorp/baton/internal/cli/cmdutil"
	"github.com/genericcorp/baton/pkg/api"
)

// readInput reads the value of --input: inline JSON, "@path" for a file, or
// "-" for stdin. The input must be one JSON object of at most
// api.MaxTaskInputBytes (compacted); it is returned compacted. Errors:
// FlagError.
func readInput(arg string, stdin io.Reader) (json.RawMessage, error) {
	var (
		data []byte
		from = "--input"
		err  error
	)
	switch {
	case arg == "-":
		from = "--input - (stdin)"
		data, err = io.ReadAll(io.LimitReader(stdin, 16*api.MaxTaskInputBytes))
		if err != nil {
			return nil, cmdutil.FlagErrorf("%s: %v", from, err)
		}
	case strings.HasPrefix(arg, "@"):
		path := arg[1:]
		from = "--input " + arg
		if path == "" {
			return nil, cmdutil.FlagErrorf("--input @: missing the file name (e.g. --input @input.json)")
		}
		data, err = os.ReadFile(path)
		if err != nil {
			return nil, cmdutil.FlagErrorf("--input: %v", err)
		}
	default:
		data = []byte(arg)
	}
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return nil, cmdutil.FlagErrorf("%s: empty; want a JSON object such as '{\"prompt\": \"hi\"}'", from)
	}
	if !json.Valid(trimmed) {
		var v any
		err := json.Unmarshal(trimmed, &v)
		return nil, cmdutil.FlagErrorf("%s: not valid JSON: %v", from, err)
	}
	if trimmed[0] != '{' {
		return nil, cmdutil.FlagErrorf("%s: must be a JSON object ({…}), not %s", from, jsonKind(trimmed[0]))
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, trimmed); err != nil {
		return nil, cmdutil.FlagErrorf("%s: %v", from, err)
	}
	if buf.Len() > api.MaxTaskInputBytes {
		return nil, cmdutil.FlagErrorf("%s: %d bytes of JSON; a task's input may be at most %d KiB", from, buf.Len(), api.MaxTaskInputBytes>>10)
	}
	return json.RawMessage(buf.Bytes()), nil
}

// jsonKind names the JSON value that starts with c.
func jsonKind(c byte) string {
	switch c {
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}

// parseLabel parses one k=v label of flag. Errors: FlagError.
func parseLabel(flag, kv string) (string, string, error) {
	k, v, ok := strings.Cut(kv, "=")
	k = strings.TrimSpace(k)
	if !ok || k == "" {
		return "", "", cmdutil.FlagErrorf("%s %q: want KEY=VALUE, e.g. %s env=prod", flag, kv, flag)
	}
	return k, v, nil
}

// parseLabels parses repeated --label k=v into a map (nil for none). A key
// given twice is a FlagError.
func parseLabels(kvs []string) (map[string]string, error) {
	if len(kvs) == 0 {
		return nil, nil
	}
	out := make(map[string]string, len(kvs))
	for _, kv := range kvs {
		k, v, err := parseLabel("--label", kv)
		if err != nil {
			return nil, err
		}
		if _, dup := out[k]; dup {
			return nil, cmdutil.FlagErrorf("--label %s is given more than once", k)
		}
		out[k] = v
	}
	return out, nil
}

// timeoutSeconds parses --timeout of submit (a Go duration or days, "90d")
// into whole seconds, at least one. Errors: FlagError.
func timeoutSeconds(s string) (int64, error) {
	d, err := api.ParseDuration(s)
	if err != nil {
		return 0, cmdutil.FlagErrorf("--timeout: %v", err)
	}
	if d < time.Second {
		return 0, cmdutil.FlagErrorf("--timeout %s: must be at least 1s", s)
	}
	if d%time.Second != 0 {
		return 0, cmdutil.FlagErrorf("--timeout %s: must be whole seconds", s)
	}
	return int64(d / time.Second), nil
}

// newIdempotencyKey returns a random key: "cli-" and 24 hex digits.
func newIdempotencyKey() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return "cli-" + hex.EncodeToString(b)
}

// validStatus returns a FlagError unless s is a task status.
func validStatus(s string) error {
	for _, v := range api.TaskStatuses {
		if s == v {
			return nil
		}
	}
	return cmdutil.FlagErrorf("--status %q: want one of %s", s, strings.Join(api.TaskStatuses, ", "))
}

// timedOut is the error of a wait that the deadline ended: exit 7.
func timedOut(what, id string) error {
	return &cmdutil.ExitError{Code: cmdutil.ExitWaitTimeout, Err: cmdutil.WithHint(
		fmt.Errorf("timed out %s task %s; it keeps running", what, id),
		"run `baton tasks wait "+id+"` to wait again, or `baton tasks cancel "+id+"` to stop it")}
}
