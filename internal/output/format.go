// Package output prints command results in the format the user chose with
// -o: a table (drawn on a terminal, tab-separated when piped), JSON, YAML,
// CSV or JSON lines. Every command prints through one Printer, so every
// command behaves the same way in every format.
package output

import (
	"fmt"
	"strings"
)

// Format is an output format, the value of the -o flag.
type Format string

// The output formats.
const (
	FormatTable Format = "table"
	FormatJSON  Format = "json"
	FormatYAML  Format = "yaml"
	FormatCSV   Format = "csv"
	FormatJSONL Format = "jsonl"
)

// Formats lists every format in the order the help text shows them.
func Formats() []Format {
	return []Format{FormatTable, FormatJSON, FormatYAML, FormatCSV, FormatJSONL}
}

// ParseFormat parses the value of -o. "" is the table format; the match is
// case-insensitive. The error for any other value lists the valid ones.
func ParseFormat(s string) (Format, error) {
	v := strings.ToLower(strings.TrimSpace(s))
	if v == "" {
		return FormatTable, nil
	}
	for _, f := range Formats() {
		if string(f) == v {
			return f, nil
		}
	}
	names := make([]string, 0, len(Formats()))
	for _, f := range Formats() {
		names = append(names, string(f))
	}
	return "", fmt.Errorf("invalid output format %q: valid formats are %s", s, strings.Join(names, ", "))
}

// String returns the format's name.
func (f Format) String() string { return string(f) }
