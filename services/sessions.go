package services

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/accountpw/accountpw/models"
	"github.com/golang-jwt/jwt/v5"
	"gorm.io/gorm"
)

// SessionsConfig configures bearer token verification. Exactly one of
// Secret (HS256) and JWKSURL (RS256, ES256, EdDSA) is set.
type SessionsConfig struct {
	Secret   []byte
	JWKSURL  string
	Issuer   string // optional; checked when set
	Audience string // optional; checked when set
	Now      func() time.Time
}

// Sessions verifies bearer JWTs and ends every session issued before the
// account's last password change.
type Sessions struct {
	db     *gorm.DB
	cfg    SessionsConfig
	parser *jwt.Parser
	keys   jwt.Keyfunc
}

// NewSessions returns a verifier. With a JWKS URL it fetches the key set in
// the background for as long as ctx lives.
func NewSessions(ctx context.Context, db *gorm.DB, cfg SessionsConfig) (*Sessions, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	opts := []jwt.ParserOption{jwt.WithExpirationRequired(), jwt.WithIssuedAt(),
		jwt.WithLeeway(30 * time.Second), jwt.WithTimeFunc(cfg.Now)}
	if cfg.Issuer != "" {
		opts = append(opts, jwt.WithIssuer(cfg.Issuer))
	}
	if cfg.Audience != "" {
		opts = append(opts, jwt.WithAudience(cfg.Audience))
	}
	s := &Sessions{db: db, cfg: cfg}
	switch {
	case len(cfg.Secret) > 0 && cfg.JWKSURL == "":
		if len(cfg.Secret) < 32 {
			return nil, errors.New("new sessions: the HS256 secret must have at least 32 bytes")
		}
		opts = append(opts, jwt.WithValidMethods([]string{"HS256"}))
		s.keys = func(*jwt.Token) (any, error) { return cfg.Secret, nil }
	case cfg.JWKSURL != "" && len(cfg.Secret) == 0:
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
// existing account. A token issued (iat, whole seconds) before the account's
// password_changed_at (truncated to the second) is refused, so a reset or a
// change ends every earlier session at once. Errors: models.ErrUnauthenticated,
// models.ErrStaleSession, a wrapped database error.
func (s *Sessions) Authenticate(ctx context.Context, bearer string) (models.Session, error) {
	var claims jwt.RegisteredClaims
	if _, err := s.parser.ParseWithClaims(bearer, &claims, s.keys); err != nil {
		return models.Session{}, models.ErrUnauthenticated
	}
	if claims.IssuedAt == nil || claims.Subject == "" {
		return models.Session{}, models.ErrUnauthenticated
	}
	var u models.User
	err := s.db.WithContext(ctx).Select("id", "password_changed_at").Where("id = ?", claims.Subject).Take(&u).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return models.Session{}, models.ErrUnauthenticated
	}
	if err != nil {
		return models.Session{}, storeErr("authenticate", err)
	}
	iat := claims.IssuedAt.Time.Truncate(time.Second)
	if iat.Before(u.PasswordChangedAt.Truncate(time.Second)) {
		return models.Session{}, models.ErrStaleSession
	}
	return models.Session{UserID: u.ID, IssuedAt: iat}, nil
}

// IssueToken returns an HS256 bearer token for userID, issued at now and
// valid for ttl, signed with secret. It exists for local testing and Postman
// (`accountpw token`); production tokens come from the platform's issuer.
func IssueToken(secret []byte, userID, issuer, audience string, now time.Time, ttl time.Duration) (string, error) {
	claims := jwt.RegisteredClaims{Subject: userID, Issuer: issuer,
		IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(ttl))}
	if audience != "" {
		claims.Audience = jwt.ClaimStrings{audience}
	}
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(secret)
	if err != nil {
		return "", fmt.Errorf("issue token: %w", err)
	}
	return tok, nil
}
