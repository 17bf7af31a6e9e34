package agent

import (
	"fmt"
	"math/big"
	"strings"
	"testing"

	"github.com/genericcorp/baton/pkg/api"
)

// FuzzParseUsage: a `::baton usage` line is read exactly: tokens as the
// whole number written, cost_usd as the decimal's micro-dollars rounded up
// (never a float), nothing negative; a line that is not a usage line is
// never read as one; and what it reads, written back as a usage line,
// reads the same.
func FuzzParseUsage(f *testing.F) {
	for _, s := range []string{"::baton usage tokens=1200 cost_usd=0.0031", "::baton usage tokens=5", "::baton usage cost_usd=.5",
		"::baton usage", "::baton usage tokens=1 tokens=2", "::baton usage tokens=-1", "::baton usage tokens=+1", "::baton usages tokens=1",
		"::baton usage\ttokens=9223372036854775807", "::baton usage tokens=9223372036854775808", "::baton usage cost_usd=999999999999.9999999",
		"::baton usage cost_usd=1e3", "::baton usage cost_usd=0.0000001", "::baton usage cost_usd=.", "::baton usage cost_usd=5.",
		"::baton usage tokens=1 cost_usd=1 x=1", "  ::baton usage tokens=1", "::baton usage tokens=1\u00a0cost_usd=2", "::baton usage cost_usd=١"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		u, ok := ParseUsageLine(line)
		if !ok {
			return
		}
		if !IsUsageLine(line) {
			t.Fatalf("ParseUsageLine(%q) read a line that is not a usage line", line)
		}
		if u.Tokens < 0 || u.CostMicros < 0 {
			t.Fatalf("ParseUsageLine(%q) = %+v: negative", line, u)
		}
		fields := map[string]string{}
		for _, fl := range strings.Fields(line[len(UsagePrefix):]) {
			k, v, _ := strings.Cut(fl, "=")
			fields[k] = v
		}
		if v, ok := fields["tokens"]; ok && fmt.Sprint(u.Tokens) != strings.TrimLeft(v, "0") && !(u.Tokens == 0 && strings.Trim(v, "0") == "") {
			t.Fatalf("ParseUsageLine(%q): tokens %d, written %q", line, u.Tokens, v)
		}
		if v, ok := fields["cost_usd"]; ok {
			want, parsed := new(big.Rat).SetString(v)
			if !parsed {
				t.Fatalf("ParseUsageLine(%q) read cost_usd %q, which is no number", line, v)
			}
			want.Mul(want, big.NewRat(api.MicrosPerUSD, 1))
			ceil := new(big.Int).Quo(want.Num(), want.Denom()) // non-negative: truncation is floor
			if !want.IsInt() {
				ceil.Add(ceil, big.NewInt(1))
			}
			if !ceil.IsInt64() || ceil.Int64() != u.CostMicros {
				t.Fatalf("ParseUsageLine(%q): cost %d micro-dollars, the amount rounded up is %s", line, u.CostMicros, ceil)
			}
			if m, err := api.ParseUSD(v); err == nil && m != u.CostMicros {
				t.Fatalf("ParseUsageLine(%q): cost %d micro-dollars, api.ParseUSD says %d", line, u.CostMicros, m)
			}
		}
		again := fmt.Sprintf("%s tokens=%d cost_usd=%s", UsagePrefix, u.Tokens, api.FormatUSD(u.CostMicros))
		if back, ok := ParseUsageLine(again); !ok || back != u {
			t.Fatalf("ParseUsageLine(%q) = %+v, %v; want %+v (from %q)", again, back, ok, u, line)
		}
	})
}
