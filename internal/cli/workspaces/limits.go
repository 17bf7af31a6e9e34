package workspaces

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/genericcorp/baton/internal/cli/cmdutil"
	"github.com/genericcorp/baton/internal/cli/tiers"
	"github.com/genericcorp/baton/pkg/api"
)

// apiLimitKey maps a CLI limit key (CONTRACT.md "Limits") to the API's.
// Error: a FlagError listing the valid keys.
func apiLimitKey(key string) (string, error) {
	k := strings.TrimSpace(key)
	if k == tiers.LimitKeySpendUSD {
		return api.LimitMonthlySpendMicros, nil
	}
	if k != api.LimitMonthlySpendMicros && api.IsLimitKey(k) {
		return k, nil
	}
	return "", cmdutil.FlagErrorf("unknown limit %q: valid keys are %s", key, strings.Join(tiers.CLILimitKeys(), ", "))
}

// parseSet parses one --set KEY=VALUE into the API key and value:
// monthly_spend_usd takes dollars as a decimal (12.50 is 12500000 micros,
// parsed exactly), every other key a non-negative integer. Errors:
// FlagError.
func parseSet(kv string) (string, int64, error) {
	key, val, ok := strings.Cut(kv, "=")
	if !ok {
		return "", 0, cmdutil.FlagErrorf("--set %q: want KEY=VALUE, e.g. --set max_concurrent_tasks=20", kv)
	}
	k, err := apiLimitKey(key)
	if err != nil {
		return "", 0, err
	}
	val = strings.TrimSpace(val)
	if k == api.LimitMonthlySpendMicros {
		micros, err := api.ParseUSD(val)
		if err != nil {
			return "", 0, cmdutil.FlagErrorf("--set %s: %v", tiers.LimitKeySpendUSD, err)
		}
		return k, micros, nil
	}
	n, err := strconv.ParseInt(val, 10, 64)
	if err != nil || n < 0 {
		return "", 0, cmdutil.FlagErrorf("--set %s: invalid value %q: want a whole number ≥ 0", key, val)
	}
	return k, n, nil
}

// overrides builds the overrides of an update request from --set and
// --unset: a number sets an override, nil removes it. A key named twice is
// a FlagError, as is any error of parseSet and apiLimitKey.
func overrides(set, unset []string) (map[string]*int64, error) {
	if len(set) == 0 && len(unset) == 0 {
		return nil, nil
	}
	out := map[string]*int64{}
	var seen []string
	for _, kv := range set {
		k, v, err := parseSet(kv)
		if err != nil {
			return nil, err
		}
		if slices.Contains(seen, k) {
			return nil, cmdutil.FlagErrorf("limit %s is given more than once", tiers.LimitLabel(k))
		}
		seen = append(seen, k)
		out[k] = &v
	}
	for _, key := range unset {
		k, err := apiLimitKey(key)
		if err != nil {
			return nil, err
		}
		if slices.Contains(seen, k) {
			return nil, cmdutil.FlagErrorf("limit %s is given more than once", tiers.LimitLabel(k))
		}
		seen = append(seen, k)
		out[k] = nil
	}
	return out, nil
}

// describeChange summarises an update for the confirmation line.
func describeChange(req api.UpdateWorkspaceRequest) string {
	var parts []string
	if req.Name != nil {
		parts = append(parts, "name "+*req.Name)
	}
	if req.Tier != nil {
		parts = append(parts, "tier "+*req.Tier)
	}
	if req.Status != nil {
		parts = append(parts, "status "+*req.Status)
	}
	for _, k := range api.LimitKeys() {
		v, ok := req.Overrides[k]
		switch {
		case !ok:
		case v == nil:
			parts = append(parts, tiers.LimitLabel(k)+" back to the tier's value")
		case k == api.LimitMonthlySpendMicros:
			parts = append(parts, tiers.LimitKeySpendUSD+"="+exactUSD(*v))
		default:
			parts = append(parts, fmt.Sprintf("%s=%d", k, *v))
		}
	}
	return strings.Join(parts, ", ")
}

// exactUSD formats micro-dollars exactly, with at least two decimals:
// 12500000 → "12.50", 12345000 → "12.345" (tables round to cents).
func exactUSD(micros int64) string {
	s := api.FormatUSD(micros)
	whole, frac, _ := strings.Cut(s, ".")
	if len(frac) < 2 {
		frac += strings.Repeat("0", 2-len(frac))
	}
	return whole + "." + frac
}
