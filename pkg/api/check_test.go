package api

import (
	"errors"
	"strings"
	"testing"
)

func TestCheckJSON(t *testing.T) {
	deep := func(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }
	cases := []struct {
		in   string
		want error
	}{
		{`{}`, nil},
		{`"x\u0000y"`, nil},
		{`{"a":"[[[[{{{{\"]]"}`, nil}, // brackets and escaped quotes in strings do not nest
		{deep(MaxJSONDepth), nil},
		{deep(MaxJSONDepth + 1), ErrJSONTooDeep},
		{`{"a":` + deep(1499) + `}`, ErrJSONTooDeep},
		{"\"\xff\"", ErrInvalidUTF8},
		{"\"\xed\xa0\x80\"", ErrInvalidUTF8}, // an encoded surrogate
		{`{"a":}`, ErrInvalidJSON},
		{``, ErrInvalidJSON},
	}
	for _, c := range cases {
		if err := CheckJSON([]byte(c.in)); !errors.Is(err, c.want) {
			t.Errorf("CheckJSON(%.30q) = %v, want %v", c.in, err, c.want)
		}
	}
	if d := JSONDepth([]byte(`[{"a":[1]},[]]`)); d != 3 {
		t.Errorf("JSONDepth = %d, want 3", d)
	}
}

func TestCheckText(t *testing.T) {
	for in, want := range map[string]error{"ok": nil, "": nil, "é": nil, "a\x00b": ErrNUL, "a\xffb": ErrInvalidUTF8} {
		if err := CheckText(in); !errors.Is(err, want) {
			t.Errorf("CheckText(%q) = %v, want %v", in, err, want)
		}
	}
}

func TestRequestChecks(t *testing.T) {
	over := &UsageReport{Tokens: MaxUsageTokens + 1, CostMicros: -1}
	if errs := (HeartbeatRequest{Usage: over}).Check(); len(errs) != 2 || errs[0].Field != "usage.tokens" || errs[1].Field != "usage.cost_micros" {
		t.Errorf("heartbeat: %+v", errs)
	}
	if errs := (FailRequest{Usage: &UsageReport{Tokens: MaxUsageTokens, CostMicros: MaxUsageCostMicros}}).Check(); len(errs) != 0 {
		t.Errorf("fail at the bounds: %+v", errs)
	}
	if errs := (CompleteRequest{Output: []byte(strings.Repeat("[", 600) + strings.Repeat("]", 600))}).Check(); len(errs) != 1 || errs[0].Field != "output" {
		t.Errorf("complete: %+v", errs)
	}
	if errs := (SubmitTaskRequest{TimeoutSeconds: 9223372037}).Check(); len(errs) != 1 || errs[0].Field != "timeout_seconds" {
		t.Errorf("submit: %+v", errs)
	}
}
