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
		if jwtSecret, err = fileSecret(SecretFile(cfg)); err != nil {
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

// ResetTokenKey returns the key that derives each reset email's token from
// the seed queued with it (see account.Mails): ACCOUNTPW_RESET_TOKEN_KEY
// when set, else a key derived from the HS256 secret (as the pseudonym key
// is, under another label, so neither reveals the other), else nil, in
// JWKS mode without a configured key: there is no secret every replica
// shares, and each send attempt then issues a token of its own.
func ResetTokenKey(cfg config.Config, jwtSecret []byte) []byte {
	switch {
	case cfg.Reset.TokenKey != "":
		return []byte(cfg.Reset.TokenKey)
	case jwtSecret != nil:
		m := hmac.New(sha256.New, jwtSecret)
		m.Write([]byte("accountpw reset token key"))
		return m.Sum(nil)
	}
	return nil
}

// SecretFile is where the embedded default keeps its generated HS256
// secret: jwt_secret beside the SQLite file.
func SecretFile(cfg config.Config) string {
	return filepath.Join(filepath.Dir(cfg.Database.Path), "jwt_secret")
}

// ErrNoSigningSecret is returned by SigningSecret when a token signed now
// would not be accepted by serve.
var ErrNoSigningSecret = errors.New("no HS256 secret to sign with")

// SigningSecret returns the HS256 secret serve verifies bearer tokens with,
// and where it came from in words ("ACCOUNTPW_AUTH_JWT_SECRET" or "the
// embedded default's data/jwt_secret"), without ever creating one: a secret generated for
// a one-off command would differ from the server's, and every token signed
// with it would be refused. With ACCOUNTPW_AUTH_JWT_SECRET set it returns
// that; on the embedded default it reads SecretFile only if serve has
// already generated it. In JWKS mode, or when the file does not exist yet,
// the error wraps ErrNoSigningSecret and says what to do.
func SigningSecret(cfg config.Config) (secret []byte, source string, err error) {
	switch {
	case cfg.Auth.JWTSecret != "":
		return []byte(cfg.Auth.JWTSecret), "ACCOUNTPW_AUTH_JWT_SECRET", nil
	case cfg.Auth.JWKSURL != "":
		return nil, "", fmt.Errorf("%w: the service verifies bearer tokens with the keys at ACCOUNTPW_AUTH_JWKS_URL; "+
			"get a token from the identity provider that holds them", ErrNoSigningSecret)
	}
	path := SecretFile(cfg)
	b, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil, "", fmt.Errorf("%w: %s does not exist yet; start the server once (it generates it) "+
			"or set ACCOUNTPW_AUTH_JWT_SECRET for both", ErrNoSigningSecret, path)
	case err != nil:
		return nil, "", fmt.Errorf("read JWT secret: %w", err)
	case len(b) == 0:
		return nil, "", fmt.Errorf("%w: %s is empty; delete it and start the server once to generate it",
			ErrNoSigningSecret, path)
	}
	return b, "the embedded default's " + path, nil
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
