package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/genericcorp/baton/internal/ratelimit"
)

// Timeouts of the rate limiter's Redis client: a decision waits at most
// about this long for Redis before this replica answers from memory.
const (
	redisDialTimeout = 500 * time.Millisecond
	redisIOTimeout   = 250 * time.Millisecond
)

// NewLimiter returns the server's rate limiter and a function that releases
// it. Without a Redis URL it is in memory (one replica). With one, it is a
// ratelimit.Fallback over Redis that answers from memory while Redis fails,
// and registers baton_ratelimit_fallback_total on reg. An unreachable Redis
// at start is logged, not fatal: rate limits fail open to the local limit.
//
// Errors: an invalid Redis URL (the error never repeats the URL, which may
// hold a password); the Registerer's.
func NewLimiter(ctx context.Context, redisURL string, log *slog.Logger, reg prometheus.Registerer) (ratelimit.Limiter, func() error, error) {
	local := ratelimit.NewMemory(ratelimit.MemoryOptions{})
	if redisURL == "" {
		return local, func() error { return nil }, nil
	}
	opt, err := redis.ParseURL(redisURL)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // url.Error quotes the whole URL
		}
		return nil, nil, fmt.Errorf("redis_url: %w", err)
	}
	redisLogOnce.Do(func() { redis.SetLogger(redisLogger{log}) })
	opt.DialTimeout = redisDialTimeout
	opt.ReadTimeout, opt.WriteTimeout, opt.PoolTimeout = redisIOTimeout, redisIOTimeout, redisIOTimeout
	opt.MaxRetries = -1   // the fallback answers instead of a retry
	opt.DialerRetries = 1 // likewise for dials
	rdb := redis.NewClient(opt)
	f, err := ratelimit.NewFallback(ratelimit.NewRedis(rdb, ""), local, ratelimit.FallbackOptions{Logger: log, Registerer: reg})
	if err != nil {
		rdb.Close()
		return nil, nil, err
	}
	pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := rdb.Ping(pctx).Err(); err != nil {
		log.Warn("Redis is unreachable; each replica enforces its own rate limits until it answers", "err", err)
	} else {
		log.Info("rate limits are shared through Redis", "redis", opt.Addr)
	}
	return f, rdb.Close, nil
}

// redisLogOnce sets go-redis's process-wide logger once: the first
// server's logger gets its lines.
var redisLogOnce sync.Once

// redisLogger sends go-redis's own log lines (a failed dial on every probe
// during an outage) to slog at debug level; the Fallback logs the outage.
type redisLogger struct{ log *slog.Logger }

func (l redisLogger) Printf(ctx context.Context, format string, v ...any) {
	l.log.DebugContext(ctx, "redis: "+fmt.Sprintf(format, v...))
}
