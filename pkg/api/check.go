package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Bounds of what the server stores, shared by the server (which refuses
// more with 422) and the supervisor (which fails an attempt whose agent
// produced more, instead of having its completion refused).
const (
	// MaxJSONDepth is the deepest nesting of arrays and objects in a task's
	// input or output. SQLite's JSON functions refuse more than 1000 levels.
	MaxJSONDepth = 512
	// MaxTimeoutSeconds bounds a task's timeout_seconds (366 days), far
	// below the 292 years where seconds overflow a time.Duration.
	MaxTimeoutSeconds = 366 * 24 * 3600
	// MaxUsageTokens and MaxUsageCostMicros bound one attempt's reported
	// usage (10 billion tokens, 100 000 USD), so sums over millions of
	// attempts stay far from int64 overflow.
	MaxUsageTokens     = 10_000_000_000
	MaxUsageCostMicros = 100_000_000_000
)

// Errors of CheckJSON and CheckText.
var (
	ErrInvalidJSON = errors.New("not valid JSON")
	ErrInvalidUTF8 = errors.New("not valid UTF-8")
	ErrJSONTooDeep = fmt.Errorf("nested deeper than %d levels", MaxJSONDepth)
	ErrNUL         = errors.New("contains a NUL character")
)

// CheckJSON reports whether raw is a JSON document the server stores on
// every backend: valid JSON, valid UTF-8 (PostgreSQL refuses anything else)
// and at most MaxJSONDepth levels of arrays and objects (SQLite refuses
// more than 1000). It returns ErrInvalidJSON, ErrInvalidUTF8 or
// ErrJSONTooDeep. The \u0000 escape is allowed: json columns keep it.
func CheckJSON(raw []byte) error {
	if !utf8.Valid(raw) {
		return ErrInvalidUTF8
	}
	if JSONDepth(raw) > MaxJSONDepth {
		return ErrJSONTooDeep
	}
	if !json.Valid(raw) {
		return ErrInvalidJSON
	}
	return nil
}

// JSONDepth is the deepest nesting of arrays and objects in raw, counted
// without parsing it (brackets inside strings do not count); 0 for a
// scalar. It does not check that raw is valid JSON.
func JSONDepth(raw []byte) int {
	depth, deepest := 0, 0
	inString, escaped := false, false
	for _, c := range raw {
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == '[' || c == '{':
			depth++
			deepest = max(deepest, depth)
		case c == ']' || c == '}':
			depth--
		}
	}
	return deepest
}

// CheckText reports whether s can be stored as text on every backend:
// valid UTF-8 without NUL (PostgreSQL refuses both). It returns
// ErrInvalidUTF8 or ErrNUL.
func CheckText(s string) error {
	if !utf8.ValidString(s) {
		return ErrInvalidUTF8
	}
	if strings.IndexByte(s, 0) >= 0 {
		return ErrNUL
	}
	return nil
}

// CheckUsage reports the fields of u outside 0..MaxUsage*.
func CheckUsage(u UsageReport, field string) []FieldError {
	var errs []FieldError
	if u.Tokens < 0 || u.Tokens > MaxUsageTokens {
		errs = append(errs, FieldError{Field: field + ".tokens", Message: fmt.Sprintf("must be from 0 to %d", int64(MaxUsageTokens))})
	}
	if u.CostMicros < 0 || u.CostMicros > MaxUsageCostMicros {
		errs = append(errs, FieldError{Field: field + ".cost_micros", Message: fmt.Sprintf("must be from 0 to %d", int64(MaxUsageCostMicros))})
	}
	return errs
}
