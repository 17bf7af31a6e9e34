package api

import (
	"fmt"
	"sort"
)

// Limit keys: API field names, config keys and `workspaces update --set` keys.
const (
	LimitRequestsPerMinute       = "requests_per_minute"
	LimitBurst                   = "burst"
	LimitMaxConcurrentTasks      = "max_concurrent_tasks"
	LimitMaxQueuedTasks          = "max_queued_tasks"
	LimitMaxTaskDurationSeconds  = "max_task_duration_seconds"
	LimitMonthlyTaskExecutions   = "monthly_task_executions"
	LimitMonthlyExecutionSeconds = "monthly_execution_seconds"
	LimitMonthlySpendMicros      = "monthly_spend_micros"
	LimitMaxLogBytesPerTask      = "max_log_bytes_per_task"
	LimitEventRetentionDays      = "event_retention_days"
	LimitMaxOpenStreams          = "max_open_streams"
)

// Limits are the limits of a tier, or a workspace's effective limits.
type Limits struct {
	RequestsPerMinute       int64 `json:"requests_per_minute" yaml:"requests_per_minute"`
	Burst                   int64 `json:"burst" yaml:"burst"`
	MaxConcurrentTasks      int64 `json:"max_concurrent_tasks" yaml:"max_concurrent_tasks"`
	MaxQueuedTasks          int64 `json:"max_queued_tasks" yaml:"max_queued_tasks"`
	MaxTaskDurationSeconds  int64 `json:"max_task_duration_seconds" yaml:"max_task_duration_seconds"`
	MonthlyTaskExecutions   int64 `json:"monthly_task_executions" yaml:"monthly_task_executions"`
	MonthlyExecutionSeconds int64 `json:"monthly_execution_seconds" yaml:"monthly_execution_seconds"`
	MonthlySpendMicros      int64 `json:"monthly_spend_micros" yaml:"monthly_spend_micros"`
	// MaxLogBytesPerTask bounds the bytes of log lines stored per task, over
	// all its attempts; further lines are dropped and counted.
	MaxLogBytesPerTask int64 `json:"max_log_bytes_per_task" yaml:"max_log_bytes_per_task"`
	// EventRetentionDays is how many days task events and raw usage events
	// are kept (the hourly and monthly rollups are kept); 0 keeps them.
	EventRetentionDays int64 `json:"event_retention_days" yaml:"event_retention_days"`
	// MaxOpenStreams bounds the event streams and claim long polls a
	// workspace holds open at once (per server replica).
	MaxOpenStreams int64 `json:"max_open_streams" yaml:"max_open_streams"`
}

// Overrides are a workspace's per-limit overrides, by limit key.
type Overrides map[string]int64

// field returns a pointer to the limit named key, or nil for an unknown key.
func (l *Limits) field(key string) *int64 {
	switch key {
	case LimitRequestsPerMinute:
		return &l.RequestsPerMinute
	case LimitBurst:
		return &l.Burst
	case LimitMaxConcurrentTasks:
		return &l.MaxConcurrentTasks
	case LimitMaxQueuedTasks:
		return &l.MaxQueuedTasks
	case LimitMaxTaskDurationSeconds:
		return &l.MaxTaskDurationSeconds
	case LimitMonthlyTaskExecutions:
		return &l.MonthlyTaskExecutions
	case LimitMonthlyExecutionSeconds:
		return &l.MonthlyExecutionSeconds
	case LimitMonthlySpendMicros:
		return &l.MonthlySpendMicros
	case LimitMaxLogBytesPerTask:
		return &l.MaxLogBytesPerTask
	case LimitEventRetentionDays:
		return &l.EventRetentionDays
	case LimitMaxOpenStreams:
		return &l.MaxOpenStreams
	}
	return nil
}

// LimitKeys lists every limit key in a stable order.
func LimitKeys() []string {
	return []string{LimitRequestsPerMinute, LimitBurst, LimitMaxConcurrentTasks, LimitMaxQueuedTasks,
		LimitMaxTaskDurationSeconds, LimitMonthlyTaskExecutions, LimitMonthlyExecutionSeconds, LimitMonthlySpendMicros,
		LimitMaxLogBytesPerTask, LimitEventRetentionDays, LimitMaxOpenStreams}
}

// IsLimitKey reports whether key names a limit.
func IsLimitKey(key string) bool { return (&Limits{}).field(key) != nil }

// Get returns the limit named key; ok is false for an unknown key.
func (l Limits) Get(key string) (v int64, ok bool) {
	p := l.field(key)
	if p == nil {
		return 0, false
	}
	return *p, true
}

// Set sets the limit named key. It returns an error for an unknown key.
func (l *Limits) Set(key string, v int64) error {
	p := l.field(key)
	if p == nil {
		return fmt.Errorf("unknown limit %q", key)
	}
	*p = v
	return nil
}

// Apply returns l with every override set on it. Unknown keys are ignored;
// callers validate overrides with Validate before they are stored.
func (l Limits) Apply(o Overrides) Limits {
	for k, v := range o {
		_ = l.Set(k, v)
	}
	return l
}

// Validate checks that every key names a limit and every value is ≥ 0.
func (o Overrides) Validate() []FieldError {
	var errs []FieldError
	keys := make([]string, 0, len(o))
	for k := range o {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		switch {
		case !IsLimitKey(k):
			errs = append(errs, FieldError{Field: "overrides." + k, Message: "unknown limit"})
		case o[k] < 0:
			errs = append(errs, FieldError{Field: "overrides." + k, Message: "must be >= 0"})
		}
	}
	return errs
}
