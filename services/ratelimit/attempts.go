package ratelimit

import (
	"context"
	"fmt"

	"github.com/accountpw/accountpw/models"
	"github.com/accountpw/accountpw/services/config"
	"github.com/accountpw/accountpw/services/store"
)

// Guesses per client: a reset token or a sign-in password is counted as a
// failure before it is checked, and given back when it proves right, so
// only failures count and concurrent guesses cannot all be checked before
// any is counted.

// TokenAttempt counts a {"token","new"} attempt for the client IP before
// the token is looked up, and refuses the attempt after TokenFailures.Max in
// the window: counting first means concurrent guesses cannot all be looked
// up before any is counted. Errors: models.RateLimited, a wrapped database
// error.
func (l *Limits) TokenAttempt(ctx context.Context, ip string) error {
	if l.off() {
		return nil
	}
	return l.attempt(ctx, "token_fail", ip, l.cfg.TokenFailures())
}

// TokenValid gives back the attempt of a client whose token was genuine, so
// that only failed tokens count. Errors: a wrapped database error.
func (l *Limits) TokenValid(ctx context.Context, ip string) error {
	if l.off() {
		return nil
	}
	return l.giveBack(ctx, "token_fail", ip, l.cfg.TokenFailures())
}

// SignInAttempt counts a sign-in check for the client IP before the
// password is checked, as TokenAttempt counts a token, and refuses it after
// SignInFailures.Max in the window. Errors: models.RateLimited, a wrapped
// database error.
func (l *Limits) SignInAttempt(ctx context.Context, ip string) error {
	if l.off() {
		return nil
	}
	return l.attempt(ctx, "sign_in_fail", ip, l.cfg.SignInFailures())
}

// SignInValid gives back the attempt of a client whose password was right,
// so that only failures count. Errors: a wrapped database error.
func (l *Limits) SignInValid(ctx context.Context, ip string) error {
	if l.off() {
		return nil
	}
	return l.giveBack(ctx, "sign_in_fail", ip, l.cfg.SignInFailures())
}

// attempt counts one attempt of the client ip in the window of name.
func (l *Limits) attempt(ctx context.Context, name, ip string, r config.Rate) error {
	v, err := l.decide(ctx, l.db.Queries, [][]step{{{name, clientKey(ip), r}}})
	if err != nil || v[0].refused < 0 {
		return err
	}
	return models.RateLimited(v[0].retry)
}

// giveBack uncounts one attempt of the client ip in the window of name.
func (l *Limits) giveBack(ctx context.Context, name, ip string, r config.Rate) error {
	bucket, start, _ := window(name, clientKey(ip), r, l.now())
	if err := l.db.UncountHits(ctx, []store.Hit{{Bucket: bucket, Start: start, N: 1}}); err != nil {
		return fmt.Errorf("rate limit %s: %w", name, err)
	}
	return nil
}
