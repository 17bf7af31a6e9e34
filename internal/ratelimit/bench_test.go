package ratelimit

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"
)

// A generous limit, so that the benchmarks measure allowed decisions.
var benchLimit = PerMinute(1_000_000_000, 1_000_000)

func BenchmarkMemoryAllow(b *testing.B) {
	m := NewMemory(MemoryOptions{})
	ctx := context.Background()
	keys := benchKeys(1024)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := m.Allow(ctx, keys[i&1023], benchLimit, 1); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func BenchmarkMemoryAllowParallel(b *testing.B) {
	m := NewMemory(MemoryOptions{})
	ctx := context.Background()
	keys := benchKeys(1024)
	var seq atomic.Int64
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := int(seq.Add(1)) * 97
		for pb.Next() {
			if _, err := m.Allow(ctx, keys[i&1023], benchLimit, 1); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
}

func BenchmarkRedisAllow(b *testing.B) {
	rdb, prefix := testRedis(b)
	r := NewRedis(rdb, prefix)
	ctx := context.Background()
	keys := benchKeys(1024)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := r.Allow(ctx, keys[i&1023], benchLimit, 1); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func BenchmarkRedisAllowParallel(b *testing.B) {
	rdb, prefix := testRedis(b)
	r := NewRedis(rdb, prefix)
	ctx := context.Background()
	keys := benchKeys(1024)
	var seq atomic.Int64
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := int(seq.Add(1)) * 97
		for pb.Next() {
			if _, err := r.Allow(ctx, keys[i&1023], benchLimit, 1); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
}

func benchKeys(n int) []string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = "ws:ws_" + strconv.Itoa(i)
	}
	return keys
}
