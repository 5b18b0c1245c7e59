package services

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/accountpw/accountpw/services/config"
)

// Secrets returns the HS256 secret (nil in JWKS mode) and the key of the
// email pseudonyms in logs. On the embedded default a missing secret is
// generated once into the data directory (mode 0600) so that serve and
// token agree across restarts; the pseudonym key, unless configured, is
// derived from the secret so pseudonyms are stable across restarts too.
func Secrets(cfg config.Config) (jwtSecret, pseudoKey []byte, err error) {
	if cfg.Auth.JWTSecret != "" {
		jwtSecret = []byte(cfg.Auth.JWTSecret)
	} else if cfg.Auth.JWKSURL == "" {
		if jwtSecret, err = fileSecret(filepath.Join(filepath.Dir(cfg.Database.Path), "jwt_secret")); err != nil {
			return nil, nil, err
		}
	}
	switch {
	case cfg.Log.PseudonymKey != "":
		pseudoKey = []byte(cfg.Log.PseudonymKey)
	case jwtSecret != nil:
		m := hmac.New(sha256.New, jwtSecret)
		m.Write([]byte("accountpw log pseudonym key"))
		pseudoKey = m.Sum(nil)
	default:
		pseudoKey = make([]byte, 32)
		_, _ = rand.Read(pseudoKey)
	}
	return jwtSecret, pseudoKey, nil
}

// fileSecret reads the secret at path, or creates it (64 hex characters,
// mode 0600) if it is missing; of two processes creating it at once, both
// end up with the one that was written.
func fileSecret(path string) ([]byte, error) {
	if b, err := os.ReadFile(path); err == nil && len(b) >= 64 {
		return b, nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("generate JWT secret: %w", err)
	}
	raw := make([]byte, 32)
	_, _ = rand.Read(raw)
	b := []byte(hex.EncodeToString(raw))
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return os.ReadFile(path) // another process won the race
	}
	if err != nil {
		return nil, fmt.Errorf("generate JWT secret: %w", err)
	}
	_, werr := f.Write(b)
	if err := errors.Join(werr, f.Close()); err != nil {
		return nil, fmt.Errorf("generate JWT secret: %w", err)
	}
	return b, nil
}
