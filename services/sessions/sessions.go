// Package sessions verifies bearer JWTs (HS256 with a shared secret, or
// asymmetric keys from a JWKS URL, which it fetches and keeps fresh) and ends
// every session issued before the account's last password change. It is
// strict about what it accepts: claims of the right JSON types only (see
// claims), no critical header extensions, a kid in JWKS mode, a sub that can
// be an account id, an optional maximum age. It also mints HS256 tokens for
// local testing.
//
// It imports models, config, store and the JWT libraries.
package sessions

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/accountpw/accountpw/models"
	"github.com/accountpw/accountpw/services/config"
	"github.com/accountpw/accountpw/services/store"
)

// leeway is the clock skew allowed on exp and nbf: an issuer whose clock
// is off by up to this much still has its tokens expire and start on time,
// give or take the leeway.
const leeway = 30 * time.Second

// iatAhead is how far a token's iat may be ahead of this service's clock.
// It is not leeway: iat is what a password change is compared with, so any
// forward allowance is a window in which a session survives the change that
// should end it. With 30 s, a token used at 12:00:00 with "iat" 12:00:25
// (an issuer's clock running 25 s ahead) outlived a change at 12:00:10,
// because its claimed issue was later than the change. With iat at most
// now + 1 s, a session used before a change is ended by it except within
// the same second, which the whole-second comparison in Authenticate
// concedes anyway. Refusing the session at every change made in the 30 s
// after its iat instead (comparing with iat − leeway) would be safer still
// against a skewed issuer, but would refuse every sign-in made in the 30 s
// after a change, the one moment a person is sure to sign in. The second
// that remains absorbs an issuer a few milliseconds ahead of this clock
// whose fresh token arrives faster than that: an issuer ahead by more has
// its tokens refused until their iat is reached, which is visible and is
// fixed by its clock.
const iatAhead = time.Second

// Sessions verifies bearer JWTs.
type Sessions struct {
	db     *store.DB
	parser *jwt.Parser
	// keys finds the verification key of a token; jwks is the key set in
	// JWKS mode (nil with an HS256 secret).
	keys   func(ctx context.Context) jwt.Keyfunc
	jwks   *keySet
	maxAge time.Duration
	now    func() time.Time
}

// New returns a verifier for cfg: HS256 under secret (at least
// config.MinJWTSecretBytes; on the embedded default the generated one), or,
// when cfg.JWKSURL is set (https, or http on a loopback host), RS256, ES256
// and EdDSA keys fetched from it: once now, then in the background for as
// long as ctx lives, and logged to log when a fetch fails. Until the first
// fetch succeeds the verifier is not ready (Ready) and answers
// models.ErrUnavailable. Issuer and audience are checked when set, the
// token's age when cfg.MaxTokenAge is; now is the clock for exp, nbf, iat.
func New(ctx context.Context, db *store.DB, cfg config.Auth, secret []byte, now func() time.Time, log *slog.Logger) (*Sessions, error) {
	if cfg.MaxTokenAge < 0 {
		return nil, errors.New("new sessions: the maximum token age must not be negative")
	}
	// iat is checked by verify, against iatAhead: the library would apply
	// leeway to it.
	opts := []jwt.ParserOption{jwt.WithExpirationRequired(), jwt.WithLeeway(leeway), jwt.WithTimeFunc(now)}
	if cfg.Issuer != "" {
		opts = append(opts, jwt.WithIssuer(cfg.Issuer))
	}
	if cfg.Audience != "" {
		opts = append(opts, jwt.WithAudience(cfg.Audience))
	}
	s := &Sessions{db: db, maxAge: cfg.MaxTokenAge, now: now}
	switch {
	case len(secret) > 0 && cfg.JWKSURL == "":
		if len(secret) < config.MinJWTSecretBytes {
			return nil, fmt.Errorf("new sessions: the HS256 secret must have at least %d bytes", config.MinJWTSecretBytes)
		}
		opts = append(opts, jwt.WithValidMethods([]string{"HS256"}))
		s.keys = func(context.Context) jwt.Keyfunc {
			return func(*jwt.Token) (any, error) { return secret, nil }
		}
	case cfg.JWKSURL != "" && len(secret) == 0:
		if err := models.CheckServiceURL(cfg.JWKSURL, true); err != nil {
			return nil, fmt.Errorf("new sessions: the JWKS URL: %w", err)
		}
		opts = append(opts, jwt.WithValidMethods([]string{"RS256", "ES256", "EdDSA"}))
		s.jwks = newKeySet(ctx, cfg.JWKSURL, log)
		s.keys = s.jwks.keyfunc
	default:
		return nil, errors.New("new sessions: set exactly one of the JWT secret and the JWKS URL")
	}
	s.parser = jwt.NewParser(opts...)
	return s, nil
}

// Ready reports whether tokens can be verified: always with an HS256
// secret, after the first successful fetch of the key set in JWKS mode.
// Errors: models.ErrUnavailable.
func (s *Sessions) Ready() error {
	if s.jwks == nil {
		return nil
	}
	if err := s.jwks.ready(); err != nil {
		return errors.Join(models.ErrUnavailable, err)
	}
	return nil
}

// Authenticate verifies a bearer token: signature and algorithm, a kid in
// JWKS mode, no crit header (no extension is understood here, so RFC 7515
// requires refusing any that is declared critical), claims of the right JSON
// types (see claims), exp and iat present, exp not passed, iat at most
// iatAhead ahead of now (see iatAhead) and not older than the maximum age
// when one is set, issuer and audience when configured, sub an account id
// (models.ValidateUserID, so a NUL or any other character no id has is
// refused before any query) and an existing account's, matched exactly. A
// token issued (iat, whole seconds) before the account's password_changed_at
// (truncated to the second) is refused, so a reset or a change ends every
// earlier session at once. Errors: models.ErrUnauthenticated,
// models.ErrStaleSession, models.ErrUnavailable (no JWKS keys yet), a
// classified database error.
func (s *Sessions) Authenticate(ctx context.Context, bearer string) (models.Session, error) {
	c, err := s.verify(ctx, bearer)
	if errors.Is(err, errNoKeys) {
		return models.Session{}, fmt.Errorf("authenticate: %w", errors.Join(models.ErrUnavailable, errNoKeys))
	}
	if err != nil {
		return models.Session{}, models.ErrUnauthenticated
	}
	changedAt, err := s.db.PasswordChangedAt(ctx, c.Subject)
	if errors.Is(err, store.ErrNotFound) {
		return models.Session{}, models.ErrUnauthenticated
	}
	if err != nil {
		return models.Session{}, fmt.Errorf("authenticate: %w", err)
	}
	iat := c.IssuedAt.Time.Truncate(time.Second)
	if iat.Before(changedAt.Truncate(time.Second)) {
		return models.Session{}, models.ErrStaleSession
	}
	return models.Session{UserID: c.Subject, IssuedAt: iat}, nil
}

// errRefused is verify's answer for a token that is not a valid session,
// whatever the reason; the reasons are not told apart anywhere.
var errRefused = errors.New("bearer token refused")

// verify checks everything about a token that needs no database.
func (s *Sessions) verify(ctx context.Context, bearer string) (*claims, error) {
	var c claims
	keys := s.keys(ctx)
	_, err := s.parser.ParseWithClaims(bearer, &c, func(t *jwt.Token) (any, error) {
		if _, ok := t.Header["crit"]; ok {
			return nil, errRefused
		}
		return keys(t)
	})
	switch {
	case errors.Is(err, errNoKeys):
		return nil, errNoKeys
	case err != nil:
		return nil, errRefused
	case c.IssuedAt == nil || models.ValidateUserID(c.Subject) != nil:
		return nil, errRefused
	case c.IssuedAt.After(s.now().Add(iatAhead)):
		return nil, errRefused
	case s.maxAge > 0 && s.now().Sub(c.IssuedAt.Time) > s.maxAge:
		return nil, errRefused
	}
	return &c, nil
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
