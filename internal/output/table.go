package output

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/charmbracelet/x/ansi"
	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/pkg/twwidth"
	"github.com/olekukonko/tablewriter/renderer"
	"github.com/olekukonko/tablewriter/tw"
)

// Table is the tabular form of a result. Headers are given as the names
// scripts see in TSV and CSV (e.g. "id", "created_at"); on a terminal they
// are shown upper-cased with underscores as spaces ("CREATED AT"). A row may
// have fewer cells than there are headers, never more.
type Table struct {
	Headers []string
	Rows    [][]string
	// Flex names the free-text columns that give way first when the table
	// is too wide for the terminal; when empty, the columns whose header
	// is in freeText do.
	Flex []string
	// Drop names columns that a terminal too narrow for the table (after
	// free text gave way) leaves out, in this order, until it fits. TSV,
	// CSV and JSON keep every column.
	Drop []string
	// Narrow, when set, is drawn instead on a terminal too narrow for this
	// table without cutting (e.g. the table turned on its side).
	Narrow *Table
	// Empty is said on stderr, on a terminal, instead of drawing a table
	// without rows: what to do to fill it ("" says "nothing to show").
	Empty string
}

// freeText are the headers of free-text columns: on a narrow terminal they
// are cut before any other column.
var freeText = map[string]bool{"name": true, "note": true, "labels": true, "reason": true,
	"status_reason": true, "error": true, "description": true, "title": true, "message": true,
	"detail": true, "host": true, "queues": true, "output": true, "scopes": true, "workspace": true}

// flexColumn reports whether the column headed h gives way first.
func (t Table) flexColumn(h string) bool {
	if len(t.Flex) > 0 {
		return slices.Contains(t.Flex, h)
	}
	return freeText[h]
}

const (
	gap       = "  " // between columns on a terminal
	minColumn = 6    // a free-text column is not narrowed below this width (nor its header)
	bold      = "\x1b[1m"
	reset     = "\x1b[0m"
)

// check returns an error when a row has more cells than there are headers.
func (t Table) check() error {
	for i, r := range t.Rows {
		if len(r) > len(t.Headers) {
			return fmt.Errorf("output: row %d has %d cells for %d headers", i, len(r), len(t.Headers))
		}
	}
	return nil
}

// cell returns the cell of row r in column c, "" when the row is short.
func cell(r []string, c int) string {
	if c < len(r) {
		return r[c]
	}
	return ""
}

// label is how a header or key is shown on a terminal.
func label(s string) string { return strings.ToUpper(strings.ReplaceAll(s, "_", " ")) }

// oneLine replaces tabs and line breaks by spaces, so that a cell stays one
// cell of one line in TSV and in drawn tables.
var oneLine = strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ", "\t", " ")

// idLike matches the identifiers baton prints (task_01…, key_01…, bk_ab12cd34,
// req_…): a column holding one is never narrowed, so an id can always be
// copied from the screen.
var idLike = regexp.MustCompile(`^[a-z]{1,8}_[0-9A-Za-z]{6,}$`)

// fixedColumn reports whether column c keeps its natural width: an "id" or
// "…_id" header, or a cell shaped like an id.
func fixedColumn(header string, rows [][]string, c int) bool {
	if header == "id" || strings.HasSuffix(header, "_id") || header == "prefix" || header == "status" {
		return true
	}
	for _, r := range rows {
		if idLike.MatchString(r[c]) {
			return true
		}
	}
	return false
}

// drawTable draws t for a terminal of the given width: upper-case headers
// (bold when color), columns separated by two spaces, no borders. When the
// table is too wide, free-text columns (names, labels, reasons) give way,
// the widest first, cut by tablewriter with "…"; ids and headers are never
// cut, so a table that cannot fit otherwise is left wider than the
// terminal rather than lose an id. colorize, when set, decorates a cell
// after its width is decided (statuses in colour).
func drawTable(t Table, width int, color bool) ([]byte, error) {
	for _, d := range t.Drop {
		if fits(t, width) {
			break
		}
		t = t.without(d)
	}
	headers := make([]string, len(t.Headers))
	for i, h := range t.Headers {
		headers[i] = label(h)
	}
	rows := make([][]string, len(t.Rows))
	for i, r := range t.Rows {
		rows[i] = make([]string, len(headers))
		for c := range headers {
			rows[i][c] = oneLine.Replace(cell(r, c))
		}
	}
	fixed := make([]bool, len(headers))
	rest := make([]bool, len(headers)) // fixed, and the free-text columns
	for c, h := range t.Headers {
		fixed[c] = fixedColumn(h, rows, c)
		rest[c] = fixed[c] || !t.flexColumn(h)
	}
	// Free text gives way first; then, when that is not enough, every
	// column but the ids.
	widths := fit(headers, rows, rest, width)
	if sum(widths)+len(gap)*(len(widths)-1) > width {
		widths = fit(headers, rows, fixed, width)
	}
	// Cut what is wider than its column with twwidth (tablewriter's own
	// width measure, wide runes and ANSI aware): tablewriter's WrapTruncate
	// counts the padding and the ellipsis in ways that change with the
	// cell, one column off now and then.
	for _, r := range rows {
		for c, w := range widths {
			if twwidth.Width(r[c]) > w {
				r[c] = twwidth.Truncate(r[c], max(w-1, 0)) + "…"
			}
		}
	}
	if color {
		for _, r := range rows {
			for c, v := range r {
				r[c] = colorCell(t.Headers[c], v, widths[c])
			}
		}
	}

	var buf bytes.Buffer
	tbl := tablewriter.NewTable(&buf,
		tablewriter.WithRenderer(renderer.NewBlueprint(tw.Rendition{
			Borders:  tw.BorderNone,
			Symbols:  tw.NewSymbols(tw.StyleNone),
			Settings: tw.Settings{Separators: tw.SeparatorsNone, Lines: tw.LinesNone},
		})),
		tablewriter.WithHeaderAutoFormat(tw.Off),
		tablewriter.WithHeaderAutoWrap(tw.WrapNone),
		tablewriter.WithHeaderAlignment(tw.AlignLeft),
		tablewriter.WithRowAlignment(tw.AlignLeft),
		tablewriter.WithRowAutoWrap(tw.WrapNone),
		tablewriter.WithPadding(tw.Padding{Left: "", Right: gap, Overwrite: true}),
		tablewriter.WithTrimSpace(tw.Off),
	)
	tbl.Header(headers)
	for _, r := range rows {
		if err := tbl.Append(r); err != nil {
			return nil, fmt.Errorf("draw table: %w", err)
		}
	}
	if err := tbl.Render(); err != nil {
		return nil, fmt.Errorf("draw table: %w", err)
	}

	// tablewriter pads every cell, the last one too: trim, then embolden
	// the header line.
	lines := strings.Split(strings.TrimRight(buf.String(), "\n"), "\n")
	var out bytes.Buffer
	for i, l := range lines {
		l = strings.TrimRight(l, " ")
		if i == 0 && color {
			l = bold + l + reset
		}
		out.WriteString(l)
		out.WriteByte('\n')
	}
	return out.Bytes(), nil
}

func sum(v []int) int {
	n := 0
	for _, x := range v {
		n += x
	}
	return n
}

// fits reports whether t can be drawn in width columns, free text given
// way, ids and headers whole.
func fits(t Table, width int) bool {
	headers := make([]string, len(t.Headers))
	for i, h := range t.Headers {
		headers[i] = label(h)
	}
	rows := make([][]string, len(t.Rows))
	for i, r := range t.Rows {
		rows[i] = make([]string, len(headers))
		for c := range headers {
			rows[i][c] = oneLine.Replace(cell(r, c))
		}
	}
	fixed := make([]bool, len(headers))
	for c, h := range t.Headers {
		fixed[c] = fixedColumn(h, rows, c)
	}
	return sum(fit(headers, rows, fixed, width))+len(gap)*max(len(headers)-1, 0) <= width
}

// without is t without the column headed h (t itself when there is none).
func (t Table) without(h string) Table {
	c := slices.Index(t.Headers, h)
	if c < 0 {
		return t
	}
	out := t
	out.Headers = slices.Delete(slices.Clone(t.Headers), c, c+1)
	out.Rows = make([][]string, len(t.Rows))
	for i, r := range t.Rows {
		if c < len(r) {
			r = slices.Delete(slices.Clone(r), c, c+1)
		}
		out.Rows[i] = r
	}
	return out
}

// naturalTableWidth is how wide t is drawn without cutting anything.
func naturalTableWidth(t Table) int {
	headers := make([]string, len(t.Headers))
	for i, h := range t.Headers {
		headers[i] = label(h)
	}
	rows := make([][]string, len(t.Rows))
	for i, r := range t.Rows {
		rows[i] = make([]string, len(headers))
		for c := range headers {
			rows[i][c] = oneLine.Replace(cell(r, c))
		}
	}
	w := len(gap) * max(len(headers)-1, 0)
	for c := range headers {
		w += naturalWidth(headers, rows, c)
	}
	return w
}

// naturalWidth is the width of column c's widest cell or header.
func naturalWidth(headers []string, rows [][]string, c int) int {
	w := twwidth.Width(headers[c])
	for _, r := range rows {
		w = max(w, twwidth.Width(r[c]))
	}
	return w
}

// fit returns the width of each column so that the table fits in width
// columns: natural widths, with the widest free columns narrowed first,
// none below its header nor minColumn (or its natural width, when
// narrower). Fixed columns keep their natural width.
func fit(headers []string, rows [][]string, fixed []bool, width int) []int {
	widths := make([]int, len(headers))
	floor := make([]int, len(widths))
	for c := range headers {
		widths[c] = naturalWidth(headers, rows, c)
		floor[c] = widths[c]
		if !fixed[c] {
			floor[c] = min(widths[c], max(minColumn, twwidth.Width(headers[c])))
		}
	}
	for {
		total := len(gap) * max(len(widths)-1, 0)
		widest := -1
		for c, w := range widths {
			total += w
			if w > floor[c] && (widest < 0 || w > widths[widest]) {
				widest = c
			}
		}
		over := total - width
		if over <= 0 || widest < 0 {
			return widths
		}
		second := 0
		for c, w := range widths {
			if c != widest && w > floor[c] {
				second = max(second, w)
			}
		}
		// Narrow the widest column by what is over, but in one step not
		// below the next widest free one (then both shrink in turn) nor
		// its floor.
		target := widths[widest] - over
		if second < widths[widest] {
			target = max(target, second)
		} else {
			target = widths[widest] - 1
		}
		widths[widest] = max(target, floor[widest])
	}
}

// tsvTable is t as tab-separated lines: the header line, then the rows.
func tsvTable(t Table) []byte {
	var buf bytes.Buffer
	writeTSV(&buf, t.Headers, len(t.Headers))
	for _, r := range t.Rows {
		writeTSV(&buf, r, len(t.Headers))
	}
	return buf.Bytes()
}

func writeTSV(buf *bytes.Buffer, cells []string, n int) {
	for c := range n {
		if c > 0 {
			buf.WriteByte('\t')
		}
		buf.WriteString(oneLine.Replace(cell(cells, c)))
	}
	buf.WriteByte('\n')
}

// csvTable is t as CSV (RFC 4180 quoting): the header, then the rows.
func csvTable(t Table) ([]byte, error) {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	_ = w.Write(t.Headers)
	for _, r := range t.Rows {
		row := make([]string, len(t.Headers))
		for c := range row {
			row[c] = cell(r, c)
		}
		_ = w.Write(row)
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return nil, fmt.Errorf("encode csv: %w", err)
	}
	return buf.Bytes(), nil
}

// drawObject prints key-value pairs for a terminal: the keys as labels
// (bold when color), the values aligned two spaces after the longest key,
// the lines of a multi-line value indented to that column.
//
// With width > 0 (the terminal's), a value longer than the room right of
// the labels wraps, at spaces where it can, its lines indented
// under the first; an id is never split unless it alone is wider.
func drawObject(kv [][2]string, color bool, width int) []byte {
	lw := 0
	for _, f := range kv {
		lw = max(lw, twwidth.Width(label(f[0])))
	}
	indent := strings.Repeat(" ", lw+len(gap))
	var buf bytes.Buffer
	for _, f := range kv {
		l := label(f[0])
		pad := strings.Repeat(" ", lw-twwidth.Width(l)) + gap
		if color {
			l = bold + l + reset
		}
		value := strings.ReplaceAll(strings.ReplaceAll(f[1], "\r\n", "\n"), "\t", " ")
		if room := width - len(indent); width > 0 && room >= minValueWidth {
			value = ansi.Wrap(value, room, "")
		}
		if color && (f[0] == "status" || f[0] == "state") {
			value = Colorize(value)
		}
		value = strings.ReplaceAll(value, "\n", "\n"+indent)
		buf.WriteString(strings.TrimRight(l+pad+value, " "))
		buf.WriteByte('\n')
	}
	return buf.Bytes()
}

// minValueWidth is the narrowest room for values that wrapping is worth:
// below it (long labels on a tiny terminal) values run on as they are.
const minValueWidth = 20

// tsvObject prints key-value pairs as "key\tvalue" lines.
func tsvObject(kv [][2]string) []byte {
	var buf bytes.Buffer
	for _, f := range kv {
		writeTSV(&buf, f[:], 2)
	}
	return buf.Bytes()
}
