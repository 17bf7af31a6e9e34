package auth

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// fixedKey is a well-formed key with a fixed body (seeds must not change
// from run to run).
func fixedKey(prefix string) string {
	body := prefix + strings.Repeat("aZ09", 11)[:randomLen]
	return body + checksum(body)
}

// FuzzParseKey: ParseKey never panics, refuses with ErrMalformedKey only,
// accepts exactly the documented shape (prefix, 43 base62 characters, the
// CRC32 of everything before the checksum) and refuses every single
// substitution and every adjacent swap of an accepted key: a typo never
// reaches the store.
func FuzzParseKey(f *testing.F) {
	for _, s := range []string{fixedKey(WorkspacePrefix), fixedKey(OperatorPrefix), "", "bk_", "bak_", "bk_" + strings.Repeat("0", 49),
		"Bearer " + fixedKey(WorkspacePrefix), fixedKey(WorkspacePrefix) + "\n", "bk_" + strings.Repeat("é", 25)} {
		f.Add(s, uint(0), byte('a'))
	}
	f.Add(fixedKey(WorkspacePrefix), uint(10), byte('Q'))
	f.Add(fixedKey(OperatorPrefix), uint(52), byte('0'))
	f.Fuzz(func(t *testing.T, s string, pos uint, c byte) {
		prefix, err := ParseKey(s)
		if err != nil {
			if !errors.Is(err, ErrMalformedKey) || prefix != "" {
				t.Fatalf("ParseKey(%q) = %q, %v; want ErrMalformedKey", s, prefix, err)
			}
			return
		}
		if prefix != WorkspacePrefix && prefix != OperatorPrefix || !strings.HasPrefix(s, prefix) {
			t.Fatalf("ParseKey(%q): prefix %q", s, prefix)
		}
		if len(s) != len(prefix)+randomLen+checksumLen || !LooksLikeKey(s) {
			t.Fatalf("ParseKey accepted %q of length %d (LooksLikeKey %v)", s, len(s), LooksLikeKey(s))
		}
		for i := len(prefix); i < len(s); i++ {
			if !strings.Contains(base62, s[i:i+1]) {
				t.Fatalf("ParseKey accepted %q with %q at %d", s, s[i], i)
			}
		}
		if body := s[:len(s)-checksumLen]; checksum(body) != s[len(body):] {
			t.Fatalf("ParseKey accepted %q whose checksum is %s", s, checksum(body))
		}
		if pub := PublicPrefix(s); pub != s[:len(prefix)+publicLen] {
			t.Fatalf("PublicPrefix(%q) = %q", s, pub)
		}
		i := int(pos % uint(len(s)))
		if s[i] != c {
			typo := s[:i] + string(c) + s[i+1:]
			if _, err := ParseKey(typo); err == nil {
				t.Fatalf("ParseKey accepted %q, a one-character typo of %q", typo, s)
			}
		}
		if j := i + 1; j < len(s) && s[i] != s[j] {
			b := []byte(s)
			b[i], b[j] = b[j], b[i]
			if _, err := ParseKey(string(b)); err == nil {
				t.Fatalf("ParseKey accepted %q, %q with two characters swapped", b, s)
			}
		}
	})
}

var fuzzNow = time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)

// FuzzVerifySession: Verify never panics, refuses with ErrBadSession only,
// and accepts nothing but a token the server minted: no forgery, no
// second spelling of a minted token (the signature's encoding is strict),
// whatever the bytes.
func FuzzVerifySession(f *testing.F) {
	s := NewSessions([]byte("fuzz-secret"), func() time.Time { return fuzzNow })
	minted := map[string]bool{}
	for _, id := range []string{"key_1", "key_2"} {
		tok, _, err := s.Mint(id, "ws_1")
		if err != nil {
			f.Fatal(err)
		}
		minted[tok] = true
		f.Add(tok)
		f.Add(tok[:len(tok)-1])
		head, rest, _ := strings.Cut(tok, ".")
		f.Add("eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0." + rest[:strings.IndexByte(rest, '.')] + ".")
		f.Add(head + ".e30." + rest[strings.IndexByte(rest, '.')+1:])
	}
	hs512, _ := jwt.NewWithClaims(jwt.SigningMethodHS512, jwt.MapClaims{"sub": "key_1", "iss": Issuer, "aud": Audience,
		"exp": fuzzNow.Add(time.Minute).Unix()}).SignedString(s.key)
	for _, tok := range []string{hs512, "", ".", "..", "a.b.c", "eyJ.eyJ.", strings.Repeat("A", 300)} {
		f.Add(tok)
	}
	f.Fuzz(func(t *testing.T, tok string) {
		c, err := s.Verify(tok)
		if err != nil {
			if !errors.Is(err, ErrBadSession) || c != nil {
				t.Fatalf("Verify(%q) = %v, %v; want ErrBadSession", tok, c, err)
			}
			return
		}
		// CR and LF are skipped by every base64 decoder of the standard
		// library; no HTTP header can carry them.
		plain := strings.NewReplacer("\r", "", "\n", "").Replace(tok)
		if !minted[plain] {
			t.Fatalf("Verify accepted %q, which the server never minted", tok)
		}
		if c.Subject == "" || c.Issuer != Issuer || !slices.Contains(c.Audience, Audience) || c.ExpiresAt == nil || c.Workspace != "ws_1" {
			t.Fatalf("Verify(%q) claims = %+v", tok, c)
		}
	})
}

func jsonText(s string) string {
	b, _ := json.Marshal(s)
	var out string
	_ = json.Unmarshal(b, &out)
	return out
}

// FuzzSessionRoundTrip: Verify(Mint(key, ws)) gives back key and ws
// exactly, for any ids, from the minting time (5 s of leeway) until the
// expiry (5 s of leeway); before and after it is refused.
func FuzzSessionRoundTrip(f *testing.F) {
	f.Add("key_1", "ws_1", int64(0))
	f.Add("key_1", "", int64(int64(SessionTTL/time.Second)+5))
	f.Add("key_\u0000é", "ws_\xff", int64(-6))
	f.Add("", "ws_1", int64(60))
	f.Add("k", "w", int64(int64(SessionTTL/time.Second)+6))
	f.Fuzz(func(t *testing.T, keyID, ws string, after int64) {
		now := fuzzNow
		s := NewSessions([]byte("fuzz-secret"), func() time.Time { return now })
		tok, exp, err := s.Mint(keyID, ws)
		if err != nil {
			t.Fatalf("Mint(%q, %q): %v", keyID, ws, err)
		}
		if !exp.Equal(fuzzNow.Add(SessionTTL)) {
			t.Fatalf("expiry %v, want %v", exp, fuzzNow.Add(SessionTTL))
		}
		after %= 3 * int64(SessionTTL/time.Second)
		now = fuzzNow.Add(time.Duration(after) * time.Second)
		c, err := s.Verify(tok)
		leeway := int64(5)
		valid := keyID != "" && after >= -leeway && after < int64(SessionTTL/time.Second)+leeway
		// JSON carries text as UTF-8: an invalid byte comes back as U+FFFD.
		wantKey, wantWS := jsonText(keyID), jsonText(ws)
		switch {
		case valid && err != nil:
			t.Fatalf("Verify of a session of %q, %q at %+ds: %v", keyID, ws, after, err)
		case !valid && err == nil:
			t.Fatalf("Verify accepted a session of %q, %q at %+ds", keyID, ws, after)
		case valid && (c.Subject != wantKey || c.Workspace != wantWS):
			t.Fatalf("round trip of %q, %q gave %q, %q", keyID, ws, c.Subject, c.Workspace)
		}
	})
}
