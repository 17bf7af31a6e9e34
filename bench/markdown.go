package main

import (
	"fmt"
	"math"
	"strings"
	"time"
)

// table is a markdown table.
type table struct {
	header []string
	rows   [][]string
}

func (t *table) add(cells ...string) { t.rows = append(t.rows, cells) }

// String renders t as a GitHub markdown table; a | in a cell is escaped.
func (t *table) String() string {
	var b strings.Builder
	line := func(cells []string) {
		b.WriteString("|")
		for _, c := range cells {
			b.WriteString(" " + strings.ReplaceAll(c, "|", `\|`) + " |")
		}
		b.WriteString("\n")
	}
	line(t.header)
	sep := make([]string, len(t.header))
	for i := range sep {
		sep[i] = "---"
	}
	line(sep)
	for _, r := range t.rows {
		line(r)
	}
	return b.String()
}

// upsertSection replaces the text between the markers of section name in
// doc with body, or appends the section when doc lacks it. Sections are
// delimited by "<!-- bench:NAME -->" and "<!-- /bench:NAME -->" lines, so
// running one scenario keeps the others' results.
func upsertSection(doc, name, body string) string {
	start, end := "<!-- bench:"+name+" -->", "<!-- /bench:"+name+" -->"
	block := start + "\n" + strings.TrimRight(body, "\n") + "\n" + end
	i := strings.Index(doc, start)
	j := strings.Index(doc, end)
	if i >= 0 && j > i {
		return doc[:i] + block + doc[j+len(end):]
	}
	if doc != "" && !strings.HasSuffix(doc, "\n\n") {
		doc = strings.TrimRight(doc, "\n") + "\n\n"
	}
	return doc + block + "\n"
}

// rate formats a per-second rate: "1 234/s".
func rate(v float64) string { return thousands(v) + "/s" }

// thousands formats v rounded to a whole number with thin-space groups.
func thousands(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "–"
	}
	n := int64(math.Round(v))
	neg := n < 0
	if neg {
		n = -n
	}
	s := fmt.Sprint(n)
	var out []string
	for len(s) > 3 {
		out = append([]string{s[len(s)-3:]}, out...)
		s = s[:len(s)-3]
	}
	out = append([]string{s}, out...)
	r := strings.Join(out, " ")
	if neg {
		r = "-" + r
	}
	return r
}

// ms formats a duration in milliseconds with two decimals below 10 ms.
func ms(d time.Duration) string {
	f := float64(d) / float64(time.Millisecond)
	switch {
	case f < 10:
		return fmt.Sprintf("%.2f ms", f)
	case f < 1000:
		return fmt.Sprintf("%.1f ms", f)
	}
	return fmt.Sprintf("%s ms", thousands(f))
}

// us formats a duration in microseconds with one decimal: "12.3 µs".
func us(d time.Duration) string {
	return fmt.Sprintf("%.1f µs", float64(d)/float64(time.Microsecond))
}

// x formats a ratio: "0.52×", "–" when undefined.
func x(r float64) string {
	if math.IsNaN(r) || math.IsInf(r, 0) {
		return "–"
	}
	return fmt.Sprintf("%.2f×", r)
}

// check is "yes" or "**no**" for a target of the issue.
func check(ok bool) string {
	if ok {
		return "yes"
	}
	return "**no**"
}
