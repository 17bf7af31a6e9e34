package main

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"sync/atomic"
	"testing"
)

// message is a typed frontend message.
func message(typ byte, body string) []byte {
	m := []byte{typ, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(m[1:], uint32(4+len(body)))
	return append(m, body...)
}

// TestCountFrontend: statements are Execute messages and the statements of
// simple queries, round trips are Sync and simple Query messages, and the
// stream is copied unchanged.
func TestCountFrontend(t *testing.T) {
	startup := make([]byte, 8)
	binary.BigEndian.PutUint32(startup, 8)
	binary.BigEndian.PutUint32(startup[4:], 196608) // protocol 3.0
	var in bytes.Buffer
	in.Write(startup)
	in.Write(message('Q', "BEGIN; SELECT set_config('a', 'b', true)\x00"))
	for range 3 { // a pipeline of three statements: one round trip
		in.Write(message('P', "\x00SELECT 1\x00\x00\x00"))
		in.Write(message('B', "\x00\x00\x00\x00\x00\x00\x00\x00"))
		in.Write(message('E', "\x00\x00\x00\x00\x00"))
	}
	in.Write(message('S', ""))
	in.Write(message('Q', "COMMIT;\x00"))
	want := bytes.Clone(in.Bytes())
	var out bytes.Buffer
	var stmts, trips atomic.Int64
	if err := countFrontend(&in, &out, &stmts, &trips); !errors.Is(err, io.EOF) {
		t.Fatalf("countFrontend = %v, want io.EOF at the stream's end", err)
	}
	if !bytes.Equal(out.Bytes(), want) {
		t.Error("the stream was not copied unchanged")
	}
	if stmts.Load() != 6 || trips.Load() != 3 {
		t.Errorf("statements %d, round trips %d; want 6 and 3", stmts.Load(), trips.Load())
	}
}
