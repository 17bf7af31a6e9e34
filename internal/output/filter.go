package output

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/template"
	"time"

	"github.com/itchyny/gojq"
	"github.com/olekukonko/tablewriter/pkg/twwidth"
)

// Filter is what --quiet, --jq and --template do to a result instead of a
// format: at most one of them is set. Parse it with ParseFilter so that a
// bad expression is a usage error before any request is made.
type Filter struct {
	// Quiet prints only ids, one a line.
	Quiet bool
	jq    *gojq.Code
	tpl   string
}

// Active reports whether the filter replaces the -o format.
func (f Filter) Active() bool { return f.Quiet || f.jq != nil || f.tpl != "" }

// ParseFilter checks a --jq expression and a --template text (either may
// be ""); quiet is --quiet. --jq and --template together are refused.
func ParseFilter(quiet bool, jq, tpl string) (Filter, error) {
	f := Filter{tpl: tpl}
	if jq != "" && tpl != "" {
		return f, errors.New("--jq and --template cannot be used together")
	}
	if jq != "" {
		q, err := gojq.Parse(jq)
		if err != nil {
			return f, fmt.Errorf("--jq: %w", err)
		}
		code, err := gojq.Compile(q)
		if err != nil {
			return f, fmt.Errorf("--jq: %w", err)
		}
		f.jq = code
	}
	if tpl != "" {
		if _, err := template.New("").Funcs(templateFuncs(time.Now, false)).Parse(tpl); err != nil {
			return f, fmt.Errorf("--template: %w", err)
		}
	}
	// --quiet with --jq or --template means "no hints": they decide the output.
	f.Quiet = quiet && jq == "" && tpl == ""
	return f, nil
}

// apply writes data, through the filter, to w.
func (f Filter) apply(w io.Writer, data any, now func() time.Time, color bool) error {
	doc, err := generic(data)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	switch {
	case f.jq != nil:
		err = runJQ(&buf, f.jq, doc)
	case f.tpl != "":
		err = runTemplate(&buf, f.tpl, doc, now, color)
	default:
		writeIDs(&buf, doc)
	}
	if err != nil {
		return err
	}
	if _, err := w.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("write output: %w", err)
	}
	return nil
}

// generic is the JSON form of data as maps, slices and json.Numbers (what
// jq and templates see: the field names of -o json).
func generic(data any) (any, error) {
	b, err := encodeJSON(data, false)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("decode result: %w", err)
	}
	return normalizeNumbers(v), nil
}

// normalizeNumbers turns json.Numbers into int or float64, the kinds gojq
// computes with.
func normalizeNumbers(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = normalizeNumbers(e)
		}
	case []any:
		for i, e := range x {
			x[i] = normalizeNumbers(e)
		}
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return int(i)
		}
		f, _ := x.Float64()
		return f
	}
	return v
}

// runJQ writes each result of code on doc on its own line: strings raw (as
// `jq -r` and `gh --jq` print them), anything else as compact JSON.
func runJQ(w *bytes.Buffer, code *gojq.Code, doc any) error {
	iter := code.Run(doc)
	for {
		v, ok := iter.Next()
		if !ok {
			return nil
		}
		if err, ok := v.(error); ok {
			var halt *gojq.HaltError
			if errors.As(err, &halt) && halt.Value() == nil {
				return nil
			}
			return fmt.Errorf("--jq: %w", err)
		}
		if s, ok := v.(string); ok {
			w.WriteString(s)
			w.WriteByte('\n')
			continue
		}
		b, err := gojq.Marshal(v)
		if err != nil {
			return fmt.Errorf("--jq: %w", err)
		}
		w.Write(b)
		w.WriteByte('\n')
	}
}

// writeIDs writes the ids of doc, one a line: each element's "id" for a
// list; the "id" of an object, or else of its first field that is an
// object with one (`workspaces create` answers {workspace, key}: the
// workspace's id).
func writeIDs(w *bytes.Buffer, doc any) {
	switch x := doc.(type) {
	case []any:
		for _, e := range x {
			writeIDs(w, e)
		}
	case map[string]any:
		if id, ok := x["id"].(string); ok {
			w.WriteString(id + "\n")
			return
		}
		for _, k := range []string{"workspace", "task", "key", "worker", "queue"} {
			if o, ok := x[k].(map[string]any); ok {
				if id, ok := o["id"].(string); ok {
					w.WriteString(id + "\n")
					return
				}
			}
		}
	}
}

// runTemplate executes tpl on doc with the helpers of templateFuncs;
// `tablerow` rows are drawn as an aligned table at the end.
func runTemplate(w *bytes.Buffer, tpl string, doc any, now func() time.Time, color bool) error {
	rows := &tableRows{}
	funcs := templateFuncs(now, color)
	funcs["tablerow"] = rows.add
	funcs["tablerender"] = func() string { return rows.render() }
	t, err := template.New("template").Funcs(funcs).Parse(tpl)
	if err != nil {
		return fmt.Errorf("--template: %w", err)
	}
	if err := t.Execute(w, doc); err != nil {
		return fmt.Errorf("--template: %w", err)
	}
	w.WriteString(rows.render())
	return nil
}

// tableRows collects the rows of `tablerow`.
type tableRows struct{ rows [][]string }

func (r *tableRows) add(cells ...any) string {
	row := make([]string, len(cells))
	for i, c := range cells {
		row[i] = fmt.Sprint(c)
	}
	r.rows = append(r.rows, row)
	return ""
}

// render draws the collected rows aligned (columns two spaces apart) and
// forgets them.
func (r *tableRows) render() string {
	if len(r.rows) == 0 {
		return ""
	}
	n := 0
	for _, row := range r.rows {
		n = max(n, len(row))
	}
	widths := make([]int, n)
	for _, row := range r.rows {
		for i, c := range row {
			widths[i] = max(widths[i], twwidth.Width(c))
		}
	}
	var b strings.Builder
	for _, row := range r.rows {
		var line strings.Builder
		for i, c := range row {
			line.WriteString(c)
			if i < len(row)-1 {
				line.WriteString(strings.Repeat(" ", widths[i]-twwidth.Width(c)) + gap)
			}
		}
		b.WriteString(strings.TrimRight(line.String(), " ") + "\n")
	}
	r.rows = nil
	return b.String()
}

// templateFuncs are the helpers of --template, after gh's: timeago and
// timefmt read RFC 3339 strings, color and autocolor colour only when
// colour is on, plus truncate, join, json and pluck.
func templateFuncs(now func() time.Time, color bool) template.FuncMap {
	parse := func(v any) (time.Time, error) {
		s, _ := v.(string)
		return time.Parse(time.RFC3339, s)
	}
	colors := map[string]string{"green": green, "red": red, "yellow": yellow, "cyan": cyan, "gray": gray, "bold": bold}
	return template.FuncMap{
		"tablerow":    func(...any) string { return "" },
		"tablerender": func() string { return "" },
		"timeago": func(v any) (string, error) {
			t, err := parse(v)
			if err != nil {
				return "", fmt.Errorf("timeago: %w", err)
			}
			return relative(now(), t), nil
		},
		"timefmt": func(layout string, v any) (string, error) {
			t, err := parse(v)
			if err != nil {
				return "", fmt.Errorf("timefmt: %w", err)
			}
			return t.Format(layout), nil
		},
		"color": func(name string, v any) (string, error) {
			c, ok := colors[name]
			if !ok {
				return "", fmt.Errorf("color: unknown colour %q (green, red, yellow, cyan, gray, bold)", name)
			}
			if !color {
				return fmt.Sprint(v), nil
			}
			return c + fmt.Sprint(v) + reset, nil
		},
		"autocolor": func(v any) string {
			if !color {
				return fmt.Sprint(v)
			}
			return Colorize(fmt.Sprint(v))
		},
		"truncate": func(n int, v any) string {
			s := fmt.Sprint(v)
			if twwidth.Width(s) <= n {
				return s
			}
			return twwidth.Truncate(s, max(n-1, 0)) + "…"
		},
		"join": func(sep string, v any) string {
			list, _ := v.([]any)
			parts := make([]string, len(list))
			for i, e := range list {
				parts[i] = fmt.Sprint(e)
			}
			return strings.Join(parts, sep)
		},
		"pluck": func(field string, v any) []any {
			list, _ := v.([]any)
			out := make([]any, 0, len(list))
			for _, e := range list {
				if m, ok := e.(map[string]any); ok {
					out = append(out, m[field])
				}
			}
			return out
		},
		"json": func(v any) (string, error) {
			b, err := encodeJSON(v, true)
			return strings.TrimSuffix(string(b), "\n"), err
		},
	}
}
