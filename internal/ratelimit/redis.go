package ratelimit

import (
	"context"
	"fmt"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"
)

// DefaultRedisPrefix is prepended to every key the Redis limiter writes
// (after redis_rate's own "rate:").
const DefaultRedisPrefix = "baton:rl:"

// Redis is a Limiter shared by every replica that uses the same Redis. Each
// decision is one atomic Lua script (github.com/go-redis/redis_rate, GCRA)
// that reads the clock with Redis's TIME, so replicas with skewed clocks
// still agree. A key expires from Redis once its TAT has passed.
type Redis struct {
	lim    *redis_rate.Limiter
	prefix string
}

// NewRedis returns a limiter over rdb whose keys start with prefix
// (DefaultRedisPrefix when empty). Replicas that share limits must use the
// same prefix.
func NewRedis(rdb redis.UniversalClient, prefix string) *Redis {
	if prefix == "" {
		prefix = DefaultRedisPrefix
	}
	return &Redis{lim: redis_rate.NewLimiter(rdb), prefix: prefix}
}

// Allow implements Limiter. Errors: a wrapped ErrInvalidLimit; the Redis
// client's error, wrapped, when Redis cannot be reached or answers with an
// error, or ctx ends first.
func (r *Redis) Allow(ctx context.Context, key string, l Limit, n int) (Result, error) {
	if err := l.check(n); err != nil {
		return Result{}, err
	}
	res, err := r.lim.AllowN(ctx, r.prefix+key, redis_rate.Limit{Rate: l.Rate, Period: l.Period, Burst: l.Burst}, n)
	if err != nil {
		return Result{}, fmt.Errorf("ratelimit: redis: %w", err)
	}
	out := Result{
		Limit:      l,
		Allowed:    res.Allowed > 0 || n == 0,
		Remaining:  max(res.Remaining, 0),
		RetryAfter: max(res.RetryAfter, 0), // redis_rate says -1 when allowed
		ResetAfter: max(res.ResetAfter, 0),
	}
	return peekRetry(out, n), nil
}
