package config

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/genericcorp/baton/pkg/api"
)

// DefaultTierName is the tier new workspaces get unless the config says otherwise.
const DefaultTierName = "free"

// DefaultTiers returns the built-in tiers free, pro and team (DESIGN.md §1).
// The map is new on every call; callers may change it.
func DefaultTiers() map[string]api.Tier {
	const usd = api.MicrosPerUSD
	return map[string]api.Tier{
		"free": {Name: "free", PriceMonthlyMicro: 0, Limits: api.Limits{
			RequestsPerMinute: 60, Burst: 20, MaxConcurrentTasks: 2, MaxQueuedTasks: 100,
			MaxTaskDurationSeconds: 300, MonthlyTaskExecutions: 1000,
			MonthlyExecutionSeconds: 3600, MonthlySpendMicros: 5 * usd,
			MaxLogBytesPerTask: 1 << 20, EventRetentionDays: 7, MaxOpenStreams: 10,
		}},
		"pro": {Name: "pro", PriceMonthlyMicro: 49 * usd, Limits: api.Limits{
			RequestsPerMinute: 600, Burst: 100, MaxConcurrentTasks: 10, MaxQueuedTasks: 10_000,
			MaxTaskDurationSeconds: 3600, MonthlyTaskExecutions: 50_000,
			MonthlyExecutionSeconds: 180_000, MonthlySpendMicros: 200 * usd,
			MaxLogBytesPerTask: 16 << 20, EventRetentionDays: 30, MaxOpenStreams: 100,
		}},
		"team": {Name: "team", PriceMonthlyMicro: 99 * usd, Limits: api.Limits{
			RequestsPerMinute: 3000, Burst: 500, MaxConcurrentTasks: 50, MaxQueuedTasks: 100_000,
			MaxTaskDurationSeconds: 21_600, MonthlyTaskExecutions: 500_000,
			MonthlyExecutionSeconds: 1_800_000, MonthlySpendMicros: 2000 * usd,
			MaxLogBytesPerTask: 64 << 20, EventRetentionDays: 90, MaxOpenStreams: 500,
		}},
	}
}

// tierFile is a tier as written in the server's config file: money in
// decimal dollars, every field optional. Values are read as text and
// parsed here: yaml.v3 would silently truncate 1.5 into an int64.
type tierFile struct {
	PriceUSD                *string `yaml:"price_usd"`
	RequestsPerMinute       *string `yaml:"requests_per_minute"`
	Burst                   *string `yaml:"burst"`
	MaxConcurrentTasks      *string `yaml:"max_concurrent_tasks"`
	MaxQueuedTasks          *string `yaml:"max_queued_tasks"`
	MaxTaskDurationSeconds  *string `yaml:"max_task_duration_seconds"`
	MonthlyTaskExecutions   *string `yaml:"monthly_task_executions"`
	MonthlyExecutionSeconds *string `yaml:"monthly_execution_seconds"`
	MonthlySpendUSD         *string `yaml:"monthly_spend_usd"`
	MaxLogBytesPerTask      *string `yaml:"max_log_bytes_per_task"`
	EventRetentionDays      *string `yaml:"event_retention_days"`
	MaxOpenStreams          *string `yaml:"max_open_streams"`
}

var tierName = regexp.MustCompile(`^[a-z0-9_-]{1,32}$`)

// mergeTiers returns the default tiers with the file's tiers laid over
// them: a tier of the file replaces the default tier of its name and takes
// every limit it leaves out from that default tier, or from the default
// "free" tier when there is none of that name. It returns an error naming
// the key (tiers.NAME.FIELD) of an invalid name, amount or negative limit.
func mergeTiers(file map[string]tierFile) (map[string]api.Tier, error) {
	defaults := DefaultTiers()
	tiers := DefaultTiers()
	names := make([]string, 0, len(file))
	for n := range file {
		names = append(names, n)
	}
	sort.Strings(names) // report the first error deterministically
	for _, name := range names {
		tf := file[name]
		key := "tiers." + name
		if !tierName.MatchString(name) {
			return nil, fmt.Errorf("%s: invalid tier name: use 1 to 32 characters a-z, 0-9, _ and -", key)
		}
		t, ok := defaults[name]
		if !ok {
			t = defaults[DefaultTierName]
		}
		t.Name = name
		if tf.PriceUSD != nil {
			m, err := api.ParseUSD(*tf.PriceUSD)
			if err != nil {
				return nil, fmt.Errorf("%s.price_usd: %w", key, err)
			}
			t.PriceMonthlyMicro = m
		}
		if tf.MonthlySpendUSD != nil {
			m, err := api.ParseUSD(*tf.MonthlySpendUSD)
			if err != nil {
				return nil, fmt.Errorf("%s.monthly_spend_usd: %w", key, err)
			}
			t.Limits.MonthlySpendMicros = m
		}
		limits := []struct {
			key string
			v   *string
		}{
			{api.LimitRequestsPerMinute, tf.RequestsPerMinute},
			{api.LimitBurst, tf.Burst},
			{api.LimitMaxConcurrentTasks, tf.MaxConcurrentTasks},
			{api.LimitMaxQueuedTasks, tf.MaxQueuedTasks},
			{api.LimitMaxTaskDurationSeconds, tf.MaxTaskDurationSeconds},
			{api.LimitMonthlyTaskExecutions, tf.MonthlyTaskExecutions},
			{api.LimitMonthlyExecutionSeconds, tf.MonthlyExecutionSeconds},
			{api.LimitMaxLogBytesPerTask, tf.MaxLogBytesPerTask},
			{api.LimitEventRetentionDays, tf.EventRetentionDays},
			{api.LimitMaxOpenStreams, tf.MaxOpenStreams},
		}
		for _, l := range limits {
			if l.v == nil {
				continue
			}
			n, err := strconv.ParseInt(strings.ReplaceAll(strings.TrimSpace(*l.v), "_", ""), 10, 64) // 10_000 is fine
			if err != nil {
				return nil, fmt.Errorf("%s.%s: want a whole number, got %q", key, l.key, *l.v)
			}
			if n < 0 {
				return nil, fmt.Errorf("%s.%s: must be >= 0, got %d", key, l.key, n)
			}
			if err := t.Limits.Set(l.key, n); err != nil {
				return nil, fmt.Errorf("%s.%s: %w", key, l.key, err)
			}
		}
		tiers[name] = t
	}
	return tiers, nil
}
