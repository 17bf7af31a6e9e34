package app

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// secretFile is where a generated server secret is kept in the data dir.
const secretFile = "secret"

// LoadSecret returns the server secret: BATON_SECRET when set (cfgSecret),
// else the one in dataDir/secret, generating and saving (mode 0600) a new
// 256-bit one on first use. Every replica of a deployment must share it.
func LoadSecret(cfgSecret, dataDir string) ([]byte, error) {
	if cfgSecret != "" {
		if len(cfgSecret) < 32 {
			return nil, errors.New("BATON_SECRET must be at least 32 characters")
		}
		return []byte(cfgSecret), nil
	}
	path := filepath.Join(dataDir, secretFile)
	b, err := os.ReadFile(path)
	if err == nil {
		s := strings.TrimSpace(string(b))
		if len(s) < 32 {
			return nil, fmt.Errorf("secret in %s is too short", path)
		}
		return []byte(s), nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("read secret: %w", err)
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return nil, err
	}
	s := hex.EncodeToString(raw)
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, fs.ErrExist) { // another process won the race
			return LoadSecret("", dataDir)
		}
		return nil, fmt.Errorf("write secret: %w", err)
	}
	defer f.Close()
	if _, err := f.WriteString(s + "\n"); err != nil {
		return nil, fmt.Errorf("write secret: %w", err)
	}
	return []byte(s), f.Sync()
}
