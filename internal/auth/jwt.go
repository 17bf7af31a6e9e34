package auth

import (
	"errors"
	"fmt"
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

// Sessions mints and verifies session JWTs.
type Sessions struct {
	key []byte
	now func() time.Time
}

// NewSessions returns a Sessions signing with a key derived from the server
// secret. now is the clock (time.Now when nil).
func NewSessions(serverSecret []byte, now func() time.Time) *Sessions {
	if now == nil {
		now = time.Now
	}
	return &Sessions{key: derive(serverSecret, "baton session jwt v1"), now: now}
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
// and returns its claims; a token has exactly one spelling. Error: ErrBadSession (wrapping the reason).
func (s *Sessions) Verify(token string) (*Claims, error) {
	var c Claims
	_, err := jwt.ParseWithClaims(token, &c, func(*jwt.Token) (any, error) { return s.key, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithIssuer(Issuer),
		jwt.WithAudience(Audience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithTimeFunc(s.now),
		jwt.WithLeeway(5*time.Second),
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
