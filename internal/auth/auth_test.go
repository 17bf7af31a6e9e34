package auth

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/genericcorp/baton/pkg/api"
)

func TestNewKeyFormat(t *testing.T) {
	seen := map[string]bool{}
	for _, prefix := range []string{WorkspacePrefix, OperatorPrefix} {
		for range 200 {
			k, err := NewKey(prefix)
			if err != nil {
				t.Fatal(err)
			}
			if len(k) != len(prefix)+43+6 || !strings.HasPrefix(k, prefix) {
				t.Fatalf("bad key %q", k)
			}
			if p, err := ParseKey(k); err != nil || p != prefix {
				t.Fatalf("ParseKey(%q) = %q, %v", k, p, err)
			}
			if seen[k] {
				t.Fatalf("duplicate key %q", k)
			}
			seen[k] = true
			if pub := PublicPrefix(k); pub != k[:len(prefix)+8] {
				t.Fatalf("PublicPrefix = %q", pub)
			}
		}
	}
}

func TestParseKeyRefusesBadChecksumAndShape(t *testing.T) {
	k, _ := NewKey(WorkspacePrefix)
	flip := []byte(k)
	if flip[10] == 'a' {
		flip[10] = 'b'
	} else {
		flip[10] = 'a'
	}
	for _, bad := range []string{"", "bk_", "xx_" + k[3:], string(flip), k[:len(k)-1], k + "0", "bk_" + strings.Repeat("!", 49), "bak_" + k[3:]} {
		if _, err := ParseKey(bad); !errors.Is(err, ErrMalformedKey) {
			t.Errorf("ParseKey(%q) err = %v, want ErrMalformedKey", bad, err)
		}
	}
}

func TestHasherIsKeyedBySecret(t *testing.T) {
	k, _ := NewKey(WorkspacePrefix)
	a, again, b := NewHasher([]byte("one")), NewHasher([]byte("one")), NewHasher([]byte("two"))
	ha := a.Hash(k)
	if string(ha) != string(again.Hash(k)) || string(ha) == string(b.Hash(k)) || len(ha) != 32 {
		t.Fatal("hash must be deterministic per secret and differ across secrets")
	}
	last := "0"
	if strings.HasSuffix(k, last) { // another key, whatever k ends with
		last = "1"
	}
	if string(ha) == string(a.Hash(k[:len(k)-1]+last)) {
		t.Fatal("different keys must hash differently")
	}
}

func TestAllowsAndValidateScopes(t *testing.T) {
	cases := []struct {
		have  []string
		want  string
		allow bool
	}{
		{[]string{"admin"}, api.ScopeAdmin, true},
		{[]string{"admin"}, api.ScopeKeysWrite, true},
		{[]string{"*"}, api.ScopeKeysWrite, true},
		{[]string{"*"}, api.ScopeAdmin, false},
		{[]string{"keys:read"}, api.ScopeKeysWrite, false},
		{[]string{"keys:read"}, api.ScopeKeysRead, true},
	}
	for _, c := range cases {
		if got := Allows(c.have, c.want); got != c.allow {
			t.Errorf("Allows(%v, %s) = %v", c.have, c.want, got)
		}
	}
	got, errs := ValidateScopes([]string{"tasks:write", "keys:read", "tasks:write"}, []string{"*"})
	if len(errs) != 0 || strings.Join(got, ",") != "keys:read,tasks:write" {
		t.Fatalf("ValidateScopes = %v %v", got, errs)
	}
	if _, errs := ValidateScopes([]string{"tasks:write"}, []string{"keys:write"}); len(errs) != 1 {
		t.Fatalf("escalation must be refused: %v", errs)
	}
	if _, errs := ValidateScopes([]string{"*"}, []string{"keys:write", "tasks:write"}); len(errs) != 1 {
		t.Fatalf("* needs *: %v", errs)
	}
	if _, errs := ValidateScopes([]string{"admin", "bogus"}, []string{"admin"}); len(errs) != 2 {
		t.Fatalf("admin/bogus must be refused for workspace keys: %v", errs)
	}
	if _, errs := ValidateScopes(nil, []string{"admin"}); len(errs) != 1 {
		t.Fatal("empty scopes must be refused")
	}
}

func TestSessionsRoundTrip(t *testing.T) {
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	s := NewSessions([]byte("secret"), func() time.Time { return now })
	tok, exp, err := s.Mint("key_1", "ws_1")
	if err != nil {
		t.Fatal(err)
	}
	if !exp.Equal(now.Add(15 * time.Minute)) {
		t.Fatalf("exp = %v", exp)
	}
	c, err := s.Verify(tok)
	if err != nil || c.Subject != "key_1" || c.Workspace != "ws_1" {
		t.Fatalf("Verify = %+v, %v", c, err)
	}
}

func TestSessionsRefuseForgeries(t *testing.T) {
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	s := NewSessions([]byte("secret"), clock)
	good, _, _ := s.Mint("key_1", "ws_1")

	other, _, _ := NewSessions([]byte("other"), clock).Mint("key_1", "ws_1")
	later := NewSessions([]byte("secret"), func() time.Time { return now.Add(16 * time.Minute) })
	parts := strings.Split(good, ".")
	none := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + parts[1] + "."
	hs512, _ := jwt.NewWithClaims(jwt.SigningMethodHS512, jwt.MapClaims{"sub": "key_1", "iss": Issuer, "aud": Audience, "exp": now.Add(time.Minute).Unix()}).SignedString(s.key)
	noExp, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"sub": "key_1", "iss": Issuer, "aud": Audience}).SignedString(s.key)
	wrongAud, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"sub": "key_1", "iss": Issuer, "aud": "x", "exp": now.Add(time.Minute).Unix()}).SignedString(s.key)
	wrongIss, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"sub": "key_1", "iss": "x", "aud": Audience, "exp": now.Add(time.Minute).Unix()}).SignedString(s.key)
	noSub, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"iss": Issuer, "aud": Audience, "exp": now.Add(time.Minute).Unix()}).SignedString(s.key)

	cases := map[string]struct {
		s   *Sessions
		tok string
	}{
		"wrong key": {s, other}, "expired": {later, good}, "alg none": {s, none}, "HS512": {s, hs512},
		"no exp": {s, noExp}, "wrong aud": {s, wrongAud}, "wrong iss": {s, wrongIss}, "no sub": {s, noSub},
		"garbage": {s, "eyJ.not.a.jwt"}, "tampered": {s, parts[0] + "." + parts[1] + "x." + parts[2]},
	}
	for name, c := range cases {
		if _, err := c.s.Verify(c.tok); !errors.Is(err, ErrBadSession) {
			t.Errorf("%s: err = %v, want ErrBadSession", name, err)
		}
	}
}

// TestRememberedSessionsKeepTheirTimes: a token Verify accepted before is
// answered from memory, but only inside the times golang-jwt accepts it in
// (5 s of leeway either side): at its expiry, or with the clock set back
// before its issue, it is refused like a token never seen.
func TestRememberedSessionsKeepTheirTimes(t *testing.T) {
	minted := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	now := minted
	s := NewSessions([]byte("secret"), func() time.Time { return now })
	tok, exp, _ := s.Mint("key_1", "ws_1")
	for _, c := range []struct {
		at time.Time
		ok bool
	}{
		{minted, true}, {minted, true}, // parsed, then remembered
		{exp.Add(sessionLeeway - time.Nanosecond), true},
		{exp.Add(sessionLeeway), false},
		{minted, true}, // forgotten at its refusal: parsed again
		{minted.Add(-sessionLeeway), true},
		{minted.Add(-sessionLeeway - time.Nanosecond), false},
	} {
		now = c.at
		claims, err := s.Verify(tok)
		if c.ok != (err == nil) {
			t.Fatalf("Verify at %v: %+v, %v; want ok %v", c.at, claims, err, c.ok)
		}
		if err == nil && (claims.Subject != "key_1" || claims.Workspace != "ws_1") {
			t.Fatalf("Verify at %v: claims %+v", c.at, claims)
		}
		if err != nil && !errors.Is(err, ErrBadSession) {
			t.Fatalf("Verify at %v: %v, want ErrBadSession", c.at, err)
		}
	}
	// The claims handed out are copies: a caller changing them does not
	// change what the next request sees.
	now = minted
	c, _ := s.Verify(tok)
	c.Subject = "key_2"
	if c, _ := s.Verify(tok); c.Subject != "key_1" {
		t.Fatalf("remembered claims changed: %+v", c)
	}
}
