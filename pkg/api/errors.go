// Package api holds the wire types and error codes shared by the baton server
// and its clients. Changing a JSON name here is a breaking change (CONTRACT.md).
package api

import (
	"fmt"
	"net/http"
)

// Code is the stable, machine-readable error code of a problem response.
type Code string

// The error codes of CONTRACT.md.
const (
	CodeInvalidRequest     Code = "invalid_request"
	CodeValidationFailed   Code = "validation_failed"
	CodeUnauthenticated    Code = "unauthenticated"
	CodeForbidden          Code = "forbidden"
	CodeWorkspaceSuspended Code = "workspace_suspended"
	CodeNotFound           Code = "not_found"
	CodeConflict           Code = "conflict"
	CodePayloadTooLarge    Code = "payload_too_large"
	CodeRequestTimeout     Code = "request_timeout"
	CodeHeadersTooLarge    Code = "headers_too_large"
	CodeRateLimited        Code = "rate_limited"
	CodeQuotaExceeded      Code = "quota_exceeded"
	CodeInternal           Code = "internal"
	CodeUnavailable        Code = "unavailable"
)

var codeInfo = map[Code]struct {
	status int
	title  string
}{
	CodeInvalidRequest:     {http.StatusBadRequest, "Invalid request"},
	CodeValidationFailed:   {http.StatusUnprocessableEntity, "Validation failed"},
	CodeUnauthenticated:    {http.StatusUnauthorized, "Unauthenticated"},
	CodeForbidden:          {http.StatusForbidden, "Forbidden"},
	CodeWorkspaceSuspended: {http.StatusForbidden, "Workspace suspended"},
	CodeNotFound:           {http.StatusNotFound, "Not found"},
	CodeConflict:           {http.StatusConflict, "Conflict"},
	CodePayloadTooLarge:    {http.StatusRequestEntityTooLarge, "Payload too large"},
	CodeRequestTimeout:     {http.StatusRequestTimeout, "Request timeout"},
	CodeHeadersTooLarge:    {http.StatusRequestHeaderFieldsTooLarge, "Request headers too large"},
	CodeRateLimited:        {http.StatusTooManyRequests, "Rate limited"},
	CodeQuotaExceeded:      {http.StatusTooManyRequests, "Quota exceeded"},
	CodeInternal:           {http.StatusInternalServerError, "Internal error"},
	CodeUnavailable:        {http.StatusServiceUnavailable, "Service unavailable"},
}

// Codes lists every error code, in the order of CONTRACT.md.
func Codes() []Code {
	return []Code{CodeInvalidRequest, CodeValidationFailed, CodeUnauthenticated, CodeForbidden,
		CodeWorkspaceSuspended, CodeNotFound, CodeConflict, CodePayloadTooLarge, CodeRequestTimeout, CodeHeadersTooLarge, CodeRateLimited,
		CodeQuotaExceeded, CodeInternal, CodeUnavailable}
}

// Status is the HTTP status of the code (500 for an unknown code).
func (c Code) Status() int {
	if i, ok := codeInfo[c]; ok {
		return i.status
	}
	return http.StatusInternalServerError
}

// Title is the short human summary of the code.
func (c Code) Title() string {
	if i, ok := codeInfo[c]; ok {
		return i.title
	}
	return "Error"
}

// CodeForStatus maps an HTTP status to the most likely code; clients use it
// when a response carries no problem body (a proxy's 502, say).
func CodeForStatus(status int) Code {
	switch status {
	case http.StatusBadRequest:
		return CodeInvalidRequest
	case http.StatusUnauthorized:
		return CodeUnauthenticated
	case http.StatusForbidden:
		return CodeForbidden
	case http.StatusNotFound:
		return CodeNotFound
	case http.StatusConflict:
		return CodeConflict
	case http.StatusRequestEntityTooLarge:
		return CodePayloadTooLarge
	case http.StatusRequestTimeout:
		return CodeRequestTimeout
	case http.StatusRequestHeaderFieldsTooLarge:
		return CodeHeadersTooLarge
	case http.StatusUnprocessableEntity:
		return CodeValidationFailed
	case http.StatusTooManyRequests:
		return CodeRateLimited
	case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return CodeUnavailable
	}
	return CodeInternal
}

// ProblemContentType is the media type of an error response (RFC 9457).
const ProblemContentType = "application/problem+json"

// FieldError names one invalid field of a request.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Problem is an RFC 9457 problem details body, with baton's stable code.
type Problem struct {
	Type      string       `json:"type"`
	Title     string       `json:"title"`
	Status    int          `json:"status"`
	Code      Code         `json:"code"`
	Detail    string       `json:"detail,omitempty"`
	RequestID string       `json:"request_id,omitempty"`
	Errors    []FieldError `json:"errors,omitempty"`
}

// NewProblem builds the problem for code with a detail message.
func NewProblem(code Code, detail string) *Problem {
	return &Problem{
		Type:   "/docs/errors#" + string(code),
		Title:  code.Title(),
		Status: code.Status(),
		Code:   code,
		Detail: detail,
	}
}

// Errorf builds a problem with a formatted detail.
func Errorf(code Code, format string, args ...any) *Problem {
	return NewProblem(code, fmt.Sprintf(format, args...))
}

// Error makes a Problem usable as a Go error inside the server.
func (p *Problem) Error() string {
	if p.Detail == "" {
		return string(p.Code)
	}
	return string(p.Code) + ": " + p.Detail
}
