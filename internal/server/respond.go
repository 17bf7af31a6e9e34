package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"reflect"
	"strings"
	"unicode/utf8"

	"github.com/genericcorp/baton/internal/store"
	"github.com/genericcorp/baton/pkg/api"
)

// encode writes v as JSON with status.
func encode(w http.ResponseWriter, status int, v any) {
	w.Header()["Content-Type"] = jsonTypeValue
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// decode reads exactly one JSON object from r's body into a T, refusing
// null, unknown fields (names are case-sensitive), trailing data, bodies over maxBytes and bodies that are
// not valid UTF-8 (400); strings that no store can hold (NUL) and, for a T
// with a Check method, fields out of their bounds are 422. A body that does
// not arrive within the server's read timeout is 408. An empty body is an
// error unless allowEmpty (whitespace alone is not empty). Errors are
// *api.Problem.
func decode[T any](r *http.Request, maxBytes int64, allowEmpty bool) (T, error) {
	var v T
	raw, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, maxBytes))
	if err != nil {
		return v, readProblem(err, maxBytes)
	}
	if !utf8.Valid(raw) {
		return v, api.NewProblem(api.CodeInvalidRequest, "request body is not valid UTF-8")
	}
	if bytes.HasPrefix(bytes.TrimLeft(raw, " \t\r\n"), []byte("null")) {
		// encoding/json leaves a struct untouched for null: the body would
		// pass as {} (found by FuzzDecodeRequests).
		p := api.NewProblem(api.CodeInvalidRequest, "request body must be a JSON object, not null")
		p.Errors = []api.FieldError{{Field: "body", Message: "must be an object"}}
		return v, p
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		switch {
		case errors.Is(err, io.EOF) && allowEmpty && len(raw) == 0:
			return v, nil
		case errors.Is(err, io.EOF) && len(raw) > 0:
			// Whitespace is no JSON document: the API document refuses it,
			// so the server may not take it for an empty body (found by
			// FuzzRouteBodies on POST /v1/keys/{id}/rotate).
			return v, api.NewProblem(api.CodeInvalidRequest, "request body holds only whitespace: send a JSON object, or no body where none is needed")
		}
		return v, decodeProblem(err, maxBytes)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return v, api.NewProblem(api.CodeInvalidRequest, "request body must be a single JSON object")
	}
	if name, bad := misspelledField(raw, reflect.TypeFor[T]()); bad {
		p := api.Errorf(api.CodeInvalidRequest, "unknown field %q (names are case-sensitive)", name)
		p.Errors = []api.FieldError{{Field: name, Message: "unknown field"}}
		return v, p
	}
	errs := checkStrings(v)
	if c, ok := any(v).(interface{ Check() []api.FieldError }); ok {
		errs = append(errs, c.Check()...)
	}
	return v, validation(errs)
}

// readProblem is the problem of a body that could not be read: too large
// (413), too slow (408), or cut off. Never the error's text, which names
// the server's address.
func readProblem(err error, maxBytes int64) *api.Problem {
	var (
		mbe *http.MaxBytesError
		ne  net.Error
	)
	switch {
	case errors.As(err, &mbe):
		return api.Errorf(api.CodePayloadTooLarge, "request body is larger than %d bytes", maxBytes)
	case errors.Is(err, os.ErrDeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return api.NewProblem(api.CodeRequestTimeout, "the request body did not arrive in time")
	}
	return api.NewProblem(api.CodeInvalidRequest, "the request body could not be read to its end")
}

func decodeProblem(err error, maxBytes int64) *api.Problem {
	var (
		syn *json.SyntaxError
		typ *json.UnmarshalTypeError
		mbe *http.MaxBytesError
	)
	switch {
	case errors.As(err, &mbe):
		return api.Errorf(api.CodePayloadTooLarge, "request body is larger than %d bytes", maxBytes)
	case errors.Is(err, io.EOF):
		return api.NewProblem(api.CodeInvalidRequest, "request body is empty; a JSON object is required")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return api.NewProblem(api.CodeInvalidRequest, "malformed JSON: unexpected end of body")
	case errors.As(err, &syn):
		return api.Errorf(api.CodeInvalidRequest, "malformed JSON at byte %d: %v", syn.Offset, syn)
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			field = "body"
		}
		p := api.Errorf(api.CodeInvalidRequest, "field %s has the wrong type", field)
		p.Errors = []api.FieldError{{Field: field, Message: "must be " + jsonKind(typ.Type.Kind().String())}}
		return p
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		p := api.Errorf(api.CodeInvalidRequest, "unknown field %q", name)
		p.Errors = []api.FieldError{{Field: name, Message: "unknown field"}}
		return p
	}
	return api.Errorf(api.CodeInvalidRequest, "malformed JSON: %v", err)
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "int", "int32", "int64", "uint", "uint32", "uint64", "float64":
		return "a number"
	case "bool":
		return "a boolean"
	case "slice", "array":
		return "an array"
	case "map", "struct", "ptr":
		return "an object"
	}
	return "of another type"
}

// validation returns a 422 problem listing errs, or nil when errs is empty.
func validation(errs []api.FieldError) error {
	if len(errs) == 0 {
		return nil
	}
	msgs := make([]string, len(errs))
	for i, e := range errs {
		msgs[i] = e.Field + ": " + e.Message
	}
	p := api.NewProblem(api.CodeValidationFailed, strings.Join(msgs, "; "))
	p.Errors = errs
	return p
}

// notFound is the problem for an object that is absent from the caller's
// workspace (another tenant's objects included).
func notFound(kind, id string) *api.Problem {
	return api.Errorf(api.CodeNotFound, "%s %s not found", kind, id)
}

// storeError maps a store error to a problem: ErrNotFound → 404,
// ErrConflict → 409, anything else → nil (the caller reports 500).
func storeError(err error, kind, id string) error {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return notFound(kind, id)
	case errors.Is(err, store.ErrConflict):
		return api.Errorf(api.CodeConflict, "%s %s conflicts with an existing one", kind, id)
	}
	return fmt.Errorf("%s %s: %w", kind, id, err)
}

// writeProblem writes p as application/problem+json.
func writeProblem(w http.ResponseWriter, r *http.Request, p *api.Problem) {
	p.RequestID = requestID(r.Context())
	w.Header().Set("Content-Type", api.ProblemContentType)
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(p.Status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(p)
}
