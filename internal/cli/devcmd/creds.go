package devcmd

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// devCreds are the dev keys, kept in the data dir so restarts reuse them.
type devCreds struct {
	OperatorKey  string `json:"operator_key"`
	WorkspaceID  string `json:"workspace_id"`
	WorkspaceKey string `json:"workspace_key"`
}

const credsFile = "dev-credentials.json"

func loadCreds(dir string) (devCreds, error) {
	var c devCreds
	b, err := os.ReadFile(filepath.Join(dir, credsFile))
	if errors.Is(err, fs.ErrNotExist) {
		return c, nil
	} else if err != nil {
		return c, fmt.Errorf("read dev credentials: %w", err)
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return c, fmt.Errorf("read dev credentials %s: %w", filepath.Join(dir, credsFile), err)
	}
	return c, nil
}

func saveCreds(dir string, c devCreds) error {
	b, _ := json.MarshalIndent(c, "", "  ")
	path := filepath.Join(dir, credsFile)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("write dev credentials: %w", err)
	}
	return os.Rename(tmp, path)
}
