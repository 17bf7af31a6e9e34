// Package rowcodec holds the value conversions both stores share between
// store types and column values: JSON columns, nullable text and bytes,
// page sizes. What differs by driver (times, scanning, error codes) stays
// in each store.
package rowcodec

import (
	"encoding/json"
	"fmt"

	"github.com/genericcorp/baton/internal/store"
)

// DefaultLimit is the page size used when store.Page.Limit is not positive.
const DefaultLimit = 100

// PageLimit is p's page size: p.Limit, or DefaultLimit if not positive.
func PageLimit(p store.Page) int {
	if p.Limit <= 0 {
		return DefaultLimit
	}
	return p.Limit
}

// EncodeJSON marshals v, or returns empty when v has no elements (n == 0),
// so that nil and empty maps and slices are stored alike.
func EncodeJSON(v any, n int, empty string) (string, error) {
	if n == 0 {
		return empty, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("encode json: %w", err)
	}
	return string(b), nil
}

// DecodeJSON unmarshals the JSON column value b into v.
func DecodeJSON[T ~string | ~[]byte](b T, v any) error {
	if err := json.Unmarshal([]byte(b), v); err != nil {
		return fmt.Errorf("decode json: %w", err)
	}
	return nil
}

// NullText stores an empty string or JSON value as NULL, else as text.
func NullText[T ~string | ~[]byte](v T) any {
	if len(v) == 0 {
		return nil
	}
	return string(v)
}

// NullBytes stores an empty byte slice as NULL.
func NullBytes(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}
