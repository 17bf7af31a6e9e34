package output

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"time"

	"github.com/genericcorp/baton/internal/iostreams"
	"gopkg.in/yaml.v3"
)

// Printer writes command results to the standard output of ios in one format.
type Printer struct {
	ios    *iostreams.IOStreams
	format Format
	now    func() time.Time
	filter Filter
}

// Option configures a Printer.
type Option func(*Printer)

// WithNow sets the clock that relative times are measured against
// (time.Now by default); tests pass a fixed clock.
func WithNow(now func() time.Time) Option {
	return func(p *Printer) { p.now = now }
}

// WithFilter makes the printer print through f (--quiet, --jq, --template)
// instead of its format.
func WithFilter(f Filter) Option {
	return func(p *Printer) { p.filter = f }
}

// New returns a Printer writing to ios.Out in format f ("" is the table format).
func New(ios *iostreams.IOStreams, f Format, opts ...Option) *Printer {
	if f == "" {
		f = FormatTable
	}
	p := &Printer{ios: ios, format: f, now: time.Now}
	for _, o := range opts {
		o(p)
	}
	return p
}

// Filtered reports whether --quiet, --jq or --template decides the output
// (commands then print no decoration of their own on stdout).
func (p *Printer) Filtered() bool { return p.filter.Active() }

// Format returns the printer's format.
func (p *Printer) Format() Format { return p.format }

// Print prints data, the JSON document of a result (usually a slice of API
// objects), in the printer's format. The table and CSV formats call table to
// build the tabular form; the other formats encode data: JSON indented by two
// spaces (a nil slice is []), JSON lines one element of a slice (or the one
// object) per line, YAML with the field names of the JSON form.
//
// Print writes nothing when it fails. It returns an error when data cannot be
// encoded, when a row of the table has more cells than there are headers,
// when the format is unknown, and when writing to the output fails.
func (p *Printer) Print(data any, table func(tf TimeFormatter) Table) error {
	if p.filter.Active() {
		return p.filter.apply(p.ios.Out, data, p.now, p.ios.ColorEnabled())
	}
	switch p.format {
	case FormatTable, FormatCSV:
		if table == nil {
			return errors.New("output: no table form for this result; use -o json")
		}
		t := table(p.timeFormatter())
		if err := t.check(); err != nil {
			return err
		}
		if p.format == FormatCSV {
			return p.write(csvTable(t))
		}
		if p.ios.IsStdoutTTY() && len(t.Rows) == 0 {
			msg := t.Empty
			if msg == "" {
				msg = "nothing to show"
			}
			_, err := fmt.Fprintln(p.ios.ErrOut, msg)
			return err
		}
		if p.ios.IsStdoutTTY() {
			width := p.ios.TerminalWidth()
			if t.Narrow != nil && naturalTableWidth(t) > width {
				t = *t.Narrow
			}
			return p.write(drawTable(t, width, p.ios.ColorEnabled()))
		}
		return p.write(tsvTable(t), nil)
	}
	return p.printEncoded(data)
}

// PrintObject prints one object. In JSON, JSON lines and YAML it is printed
// like Print prints it. In the table format, fields builds "key value"
// pairs, printed as aligned lines on a terminal and as "key\tvalue" lines
// when piped; in CSV the keys are the header and the values the one row.
// It returns the errors Print returns.
func (p *Printer) PrintObject(data any, fields func(tf TimeFormatter) [][2]string) error {
	if p.filter.Active() {
		return p.filter.apply(p.ios.Out, data, p.now, p.ios.ColorEnabled())
	}
	switch p.format {
	case FormatTable, FormatCSV:
		if fields == nil {
			return errors.New("output: no table form for this result; use -o json")
		}
		kv := fields(p.timeFormatter())
		if p.format == FormatCSV {
			t := Table{Headers: make([]string, len(kv)), Rows: [][]string{make([]string, len(kv))}}
			for i, f := range kv {
				t.Headers[i], t.Rows[0][i] = f[0], f[1]
			}
			return p.write(csvTable(t))
		}
		if p.ios.IsStdoutTTY() {
			return p.write(drawObject(kv, p.ios.ColorEnabled(), p.ios.TerminalWidth()), nil)
		}
		return p.write(tsvObject(kv), nil)
	}
	return p.printEncoded(data)
}

// timeFormatter returns the TimeFormatter of the printer's tabular form:
// relative times only for a table on a terminal.
func (p *Printer) timeFormatter() TimeFormatter {
	return timeFormatter{human: p.format == FormatTable && p.ios.IsStdoutTTY(), now: p.now}
}

func (p *Printer) printEncoded(data any) error {
	var (
		b   []byte
		err error
	)
	switch p.format {
	case FormatJSON:
		b, err = encodeJSON(data, true)
	case FormatJSONL:
		b, err = encodeJSONL(data)
	case FormatYAML:
		b, err = encodeYAML(data)
	default:
		return fmt.Errorf("output: unknown format %q", p.format)
	}
	return p.write(b, err)
}

// write writes b to the output unless err is set; it returns err or the
// write error.
func (p *Printer) write(b []byte, err error) error {
	if err != nil {
		return err
	}
	if _, err := p.ios.Out.Write(b); err != nil {
		return fmt.Errorf("write output: %w", err)
	}
	return nil
}

// encodeJSON encodes v with a trailing newline, without escaping HTML
// characters; a nil slice encodes as [].
func encodeJSON(v any, indent bool) ([]byte, error) {
	if rv := reflect.ValueOf(v); rv.Kind() == reflect.Slice && rv.IsNil() {
		v = []any{}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if indent {
		enc.SetIndent("", "  ")
	}
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("encode json: %w", err)
	}
	return buf.Bytes(), nil
}

// encodeJSONL encodes v compactly on one line, or, when v encodes as a JSON
// array, each element on its own line (nothing for an empty array).
func encodeJSONL(v any) ([]byte, error) {
	b, err := encodeJSON(v, false)
	if err != nil || len(b) == 0 || b[0] != '[' {
		return b, err
	}
	var elems []json.RawMessage
	if err := json.Unmarshal(b, &elems); err != nil {
		return nil, fmt.Errorf("encode json lines: %w", err)
	}
	var buf bytes.Buffer
	for _, e := range elems {
		buf.Write(e)
		buf.WriteByte('\n')
	}
	return buf.Bytes(), nil
}

// encodeYAML encodes the JSON form of v as YAML, so field names, field
// order, omitted fields and custom marshalling match JSON exactly.
func encodeYAML(v any) ([]byte, error) {
	b, err := encodeJSON(v, false)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	node, err := yamlNode(dec)
	if err != nil {
		return nil, fmt.Errorf("encode yaml: %w", err)
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(node); err != nil {
		return nil, fmt.Errorf("encode yaml: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("encode yaml: %w", err)
	}
	return buf.Bytes(), nil
}
