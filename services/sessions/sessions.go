// Package sessions verifies bearer JWTs (HS256 with a shared secret, or
// asymmetric keys from a JWKS URL) and ends every session issued before the
// account's last password change. It also mints HS256 tokens for local
// testing.
//
// It imports models, config, store and the JWT libraries.
package sessions

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"

	"github.com/accountpw/accountpw/models"
	"github.com/accountpw/accountpw/services/config"
	"github.com/accountpw/accountpw/services/store"
)

// Sessions verifies bearer JWTs.
type Sessions struct {
	db     *store.DB
	parser *jwt.Parser
	keys   jwt.Keyfunc
}

// New returns a verifier for cfg: HS256 under secret (at least
// config.MinJWTSecretBytes; on the embedded default the generated one), or,
// when cfg.JWKSURL is set, RS256, ES256 and EdDSA keys fetched from it in
// the background for as long as ctx lives. Issuer and audience are checked
// when set; now is the clock for exp and iat.
func New(ctx context.Context, db *store.DB, cfg config.Auth, secret []byte, now func() time.Time) (*Sessions, error) {
	opts := []jwt.ParserOption{jwt.WithExpirationRequired(), jwt.WithIssuedAt(),
		jwt.WithLeeway(30 * time.Second), jwt.WithTimeFunc(now)}
	if cfg.Issuer != "" {
		opts = append(opts, jwt.WithIssuer(cfg.Issuer))
	}
	if cfg.Audience != "" {
		opts = append(opts, jwt.WithAudience(cfg.Audience))
	}
	s := &Sessions{db: db}
	switch {
	case len(secret) > 0 && cfg.JWKSURL == "":
		if len(secret) < config.MinJWTSecretBytes {
			return nil, fmt.Errorf("new sessions: the HS256 secret must have at least %d bytes", config.MinJWTSecretBytes)
		}
		opts = append(opts, jwt.WithValidMethods([]string{"HS256"}))
		s.keys = func(*jwt.Token) (any, error) { return secret, nil }
	case cfg.JWKSURL != "" && len(secret) == 0:
		k, err := keyfunc.NewDefaultCtx(ctx, []string{cfg.JWKSURL})
		if err != nil {
			return nil, fmt.Errorf("new sessions: %w", err)
		}
		opts = append(opts, jwt.WithValidMethods([]string{"RS256", "ES256", "EdDSA"}))
		s.keys = k.Keyfunc
	default:
		return nil, errors.New("new sessions: set exactly one of the JWT secret and the JWKS URL")
	}
	s.parser = jwt.NewParser(opts...)
	return s, nil
}

// Authenticate verifies a bearer token: signature and algorithm, exp and iat
// present, exp not passed, issuer and audience when configured, sub an
// existing account's id, matched exactly (a sub that breaks
// models.ValidateUserID is refused without a query). A token issued (iat,
// whole seconds) before the account's password_changed_at (truncated to the
// second) is refused, so a reset or a change ends every earlier session at
// once. Errors: models.ErrUnauthenticated,
// models.ErrStaleSession, a wrapped database error.
func (s *Sessions) Authenticate(ctx context.Context, bearer string) (models.Session, error) {
	var claims jwt.RegisteredClaims
	if _, err := s.parser.ParseWithClaims(bearer, &claims, s.keys); err != nil {
		return models.Session{}, models.ErrUnauthenticated
	}
	// A sub that cannot be an account id is refused before any query.
	if claims.IssuedAt == nil || models.ValidateUserID(claims.Subject) != nil {
		return models.Session{}, models.ErrUnauthenticated
	}
	changedAt, err := s.db.PasswordChangedAt(ctx, claims.Subject)
	if errors.Is(err, store.ErrNotFound) {
		return models.Session{}, models.ErrUnauthenticated
	}
	if err != nil {
		return models.Session{}, fmt.Errorf("authenticate: %w", err)
	}
	iat := claims.IssuedAt.Time.Truncate(time.Second)
	if iat.Before(changedAt.Truncate(time.Second)) {
		return models.Session{}, models.ErrStaleSession
	}
	return models.Session{UserID: claims.Subject, IssuedAt: iat}, nil
}

// Issue returns an HS256 bearer token for userID, issued at now and valid
// for ttl, signed with secret, with cfg's issuer and audience. It exists for
// local testing and Postman (`accountpw token`); production tokens come from
// the platform's issuer.
func Issue(secret []byte, cfg config.Auth, userID string, now time.Time, ttl time.Duration) (string, error) {
	claims := jwt.RegisteredClaims{Subject: userID, Issuer: cfg.Issuer,
		IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(ttl))}
	if cfg.Audience != "" {
		claims.Audience = jwt.ClaimStrings{cfg.Audience}
	}
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(secret)
	if err != nil {
		return "", fmt.Errorf("issue token: %w", err)
	}
	return tok, nil
}
