// Package auth implements baton's credentials: API key format and hashing,
// scopes, and session JWTs.
//
// Key format (CONTRACT.md): a prefix ("bk_" for workspace keys, "bak_" for
// operator keys), 43 base62 characters of randomness (256 bits), and a
// 6-character base62 CRC32 checksum of everything before it. The checksum
// lets the server refuse a mistyped or made-up key before touching the store.
package auth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"hash"
	"hash/crc32"
	"strings"
	"sync"
)

// Key prefixes.
const (
	WorkspacePrefix = "bk_"
	OperatorPrefix  = "bak_"
)

const (
	base62       = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	randomLen    = 43 // 43 × log2(62) ≈ 256.1 bits
	checksumLen  = 6  // 62^6 > 2^32
	publicLen    = 8  // characters after the prefix that are shown publicly
	maxKeyLength = len(OperatorPrefix) + randomLen + checksumLen
)

// ErrMalformedKey is returned for a string that is not a well-formed key:
// wrong prefix, length, alphabet or checksum.
var ErrMalformedKey = errors.New("malformed API key")

// NewKey returns a fresh secret key with the given prefix (WorkspacePrefix
// or OperatorPrefix).
func NewKey(prefix string) (string, error) {
	var b strings.Builder
	b.Grow(len(prefix) + randomLen + checksumLen)
	b.WriteString(prefix)
	buf := make([]byte, 64)
	for n := 0; n < randomLen; {
		if _, err := rand.Read(buf); err != nil {
			return "", err
		}
		for _, c := range buf {
			// 248 = 4 × 62: rejecting larger bytes keeps every character equally likely.
			if c >= 248 || n == randomLen {
				continue
			}
			b.WriteByte(base62[c%62])
			n++
		}
	}
	body := b.String()
	return body + checksum(body), nil
}

// checksum is the CRC32 (IEEE) of s, in base62, left-padded to 6 characters.
func checksum(s string) string {
	v := crc32.ChecksumIEEE([]byte(s))
	out := []byte("000000")
	for i := checksumLen - 1; i >= 0 && v > 0; i-- {
		out[i] = base62[v%62]
		v /= 62
	}
	return string(out)
}

// ParseKey checks the format and checksum of key and returns its prefix.
// It never touches the store. Error: ErrMalformedKey.
func ParseKey(key string) (prefix string, err error) {
	switch {
	case strings.HasPrefix(key, WorkspacePrefix):
		prefix = WorkspacePrefix
	case strings.HasPrefix(key, OperatorPrefix):
		prefix = OperatorPrefix
	default:
		return "", ErrMalformedKey
	}
	if len(key) != len(prefix)+randomLen+checksumLen {
		return "", ErrMalformedKey
	}
	for i := len(prefix); i < len(key); i++ {
		if strings.IndexByte(base62, key[i]) < 0 {
			return "", ErrMalformedKey
		}
	}
	body, sum := key[:len(key)-checksumLen], key[len(key)-checksumLen:]
	if !hmac.Equal([]byte(checksum(body)), []byte(sum)) {
		return "", ErrMalformedKey
	}
	return prefix, nil
}

// LooksLikeKey reports whether s starts like an API key (used to tell keys
// from JWTs before parsing).
func LooksLikeKey(s string) bool {
	return len(s) <= maxKeyLength && (strings.HasPrefix(s, WorkspacePrefix) || strings.HasPrefix(s, OperatorPrefix))
}

// PublicPrefix is the part of a key that may be shown: its prefix and the
// first 8 characters after it ("bk_AbCd1234").
func PublicPrefix(key string) string {
	p := WorkspacePrefix
	if strings.HasPrefix(key, OperatorPrefix) {
		p = OperatorPrefix
	}
	if len(key) < len(p)+publicLen {
		return p
	}
	return key[:len(p)+publicLen]
}

// Hasher computes the at-rest form of keys: HMAC-SHA-256 under the server
// secret. Without the secret a stolen database cannot be used to check guesses.
type Hasher struct {
	secret []byte
	// macs holds HMACs keyed by secret, reset after use: every request
	// with a key hashes it, and a fresh HMAC costs three allocations and
	// the key schedule.
	macs *sync.Pool
}

// NewHasher returns a Hasher keyed by a key derived from the server secret.
func NewHasher(serverSecret []byte) Hasher {
	secret := derive(serverSecret, "baton api key hash v1")
	return Hasher{secret: secret, macs: &sync.Pool{New: func() any { return hmac.New(sha256.New, secret) }}}
}

// Hash returns HMAC-SHA-256(key).
func (h Hasher) Hash(key string) []byte {
	m := h.macs.Get().(hash.Hash)
	m.Write([]byte(key))
	sum := m.Sum(make([]byte, 0, sha256.Size))
	m.Reset()
	h.macs.Put(m)
	return sum
}

// derive makes a purpose-bound sub-key of the server secret, so the key hash
// and the JWT signature never share a key.
func derive(secret []byte, purpose string) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(purpose))
	return m.Sum(nil)
}
