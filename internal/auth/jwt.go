package auth

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Session token parameters. The method is pinned: a token signed any other
// way (including "none") is refused.
const (
	Issuer     = "baton"
	Audience   = "baton-api"
	SessionTTL = 15 * time.Minute
)

// ErrBadSession is returned for a session token that is malformed, forged,
// expired or otherwise invalid.
var ErrBadSession = errors.New("invalid session token")

// sessionLeeway is the clock skew Verify allows on exp, nbf and iat.
const sessionLeeway = 5 * time.Second

// maxVerified bounds the verified tokens Sessions remembers (~0.5 KB
// each, strings the GC marks): past it, the expired ones are dropped, and
// all of them if none had expired.
const maxVerified = 10_000

// Sessions mints and verifies session JWTs.
//
// It remembers the tokens it verified (keyed by the token's exact text)
// with the window of time in which their claims hold, so that a session
// used again within that window costs a map lookup, not a JSON parse and
// an HMAC. Only a token that passed every check is remembered, and its
// text is the exact string that passed, so no other spelling, forgery or
// tampered token ever hits; the signing key never changes for a Sessions.
// What may change — the key revoked, expired or deleted, its workspace
// suspended or deleted — is not a property of the token: the server checks
// it on every request, after Verify, through the key cache.
type Sessions struct {
	key []byte
	now func() time.Time

	mu       sync.RWMutex
	verified map[string]verifiedToken
}

// verifiedToken is a token that passed Verify, and the times at which its
// claims hold: from (inclusive) until (exclusive), leeway included.
type verifiedToken struct {
	claims      Claims
	from, until time.Time
}

// NewSessions returns a Sessions signing with a key derived from the server
// secret. now is the clock (time.Now when nil).
func NewSessions(serverSecret []byte, now func() time.Time) *Sessions {
	if now == nil {
		now = time.Now
	}
	return &Sessions{key: derive(serverSecret, "baton session jwt v1"), now: now, verified: map[string]verifiedToken{}}
}

// Claims of a session token: the subject is the key id.
type Claims struct {
	Workspace string `json:"ws,omitempty"`
	jwt.RegisteredClaims
}

// Mint returns a token for keyID valid for SessionTTL, and its expiry.
func (s *Sessions) Mint(keyID, workspaceID string) (string, time.Time, error) {
	now := s.now().UTC().Truncate(time.Second)
	exp := now.Add(SessionTTL)
	claims := Claims{
		Workspace: workspaceID,
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    Issuer,
			Subject:   keyID,
			Audience:  jwt.ClaimStrings{Audience},
			IssuedAt:  jwt.NewNumericDate(now),
			NotBefore: jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(exp),
		},
	}
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(s.key)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("sign session: %w", err)
	}
	return tok, exp, nil
}

// Verify checks the token's signature, method, issuer, audience and times
// and returns its claims; a token has exactly one spelling. A token it
// verified before is answered from memory while its times hold (see
// Sessions). Error: ErrBadSession (wrapping the reason).
func (s *Sessions) Verify(token string) (*Claims, error) {
	now := s.now()
	s.mu.RLock()
	v, ok := s.verified[token]
	s.mu.RUnlock()
	if ok && !now.Before(v.from) && now.Before(v.until) {
		c := v.claims
		return &c, nil
	}
	c, err := s.parse(token)
	if err != nil {
		if ok {
			s.mu.Lock()
			delete(s.verified, token)
			s.mu.Unlock()
		}
		return nil, err
	}
	s.remember(token, c, now)
	return c, nil
}

// parse is Verify without the memory: golang-jwt's full check.
func (s *Sessions) parse(token string) (*Claims, error) {
	var c Claims
	_, err := jwt.ParseWithClaims(token, &c, func(*jwt.Token) (any, error) { return s.key, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithIssuer(Issuer),
		jwt.WithAudience(Audience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithTimeFunc(s.now),
		jwt.WithLeeway(sessionLeeway),
		// Strict base64: the unused low bits of a segment's last
		// character must be zero, so a token has one spelling (found by
		// FuzzVerifySession: three other last characters were accepted).
		jwt.WithStrictDecoding(),
	)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadSession, err)
	}
	if c.Subject == "" {
		return nil, fmt.Errorf("%w: no subject", ErrBadSession)
	}
	return &c, nil
}

// remember keeps a token that parse accepted at now, with the window in
// which golang-jwt's time checks (the same leeway) accept it: from
// max(iat, nbf) − leeway, until exp + leeway. Outside it, Verify parses
// the token again and refuses it with golang-jwt's own reason.
func (s *Sessions) remember(token string, c *Claims, now time.Time) {
	if c.ExpiresAt == nil { // required by parse; never nil here
		return
	}
	from := time.Time{}
	for _, t := range []*jwt.NumericDate{c.IssuedAt, c.NotBefore} {
		if t != nil && t.Time.Add(-sessionLeeway).After(from) {
			from = t.Time.Add(-sessionLeeway)
		}
	}
	v := verifiedToken{claims: *c, from: from, until: c.ExpiresAt.Time.Add(sessionLeeway)}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.verified) >= maxVerified {
		for t, e := range s.verified {
			if !now.Before(e.until) {
				delete(s.verified, t)
			}
		}
		if len(s.verified) >= maxVerified {
			clear(s.verified)
		}
	}
	s.verified[token] = v
}
