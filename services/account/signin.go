package account

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"

	"github.com/accountpw/accountpw/models"
	"github.com/accountpw/accountpw/services/store"
)

// Outcomes of a sign-in check, as Observer.ObserveSignIn hears them. They
// are a public contract (metric label values): rename none.
const (
	SignInValid    = "valid"
	SignInInvalid  = "invalid"
	SignInLimited  = "limited"
	SignInRehashed = "rehashed" // valid, and the hash was upgraded
)

// errBadClientIP is the answer to a client_ip that is no IP address.
var errBadClientIP = &models.Error{Kind: models.KindInvalid, Code: "invalid_client_ip", Field: "client_ip",
	Message: "client_ip must be an IPv4 or IPv6 address, such as 203.0.113.7."}

// SignIn answers the adopting application's sign-in check: does
// in.Password belong to the account in.ID, or the account of in.Email?
//
// A wrong password, an account without one and an unknown id or address
// are one answer, {valid: false}, in the same time as for an account whose
// hash is current: an unknown account's password is compared with
// Hasher.DummyHash, which costs what a current hash costs. (An account still
// on an imported or outdated hash answers in that hash's time until its
// first right sign-in upgrades it; the documents say so.) Every check is
// counted as a failure before the password is compared, and forgotten when
// it proves right: per account (a back-off like {"old","new"}'s, under
// limits.change_*, but of its own, keyed by signInSubject, or for an id or
// address without an account by a keyed pseudonym of it, so that unknown
// accounts throttle like known ones), and per in.ClientIP when given. Over
// either, the answer is models.RateLimited, even for the right password. A
// completed reset and a change with the right old password end the
// account's sign-in back-off.
//
// A right password whose stored hash Hasher.Compare finds outdated (an
// imported format, weaker parameters, a retired pepper) is hashed anew and
// stored, guarded by the hash that was verified: the lazy upgrade at
// sign-in. It is the same password, so password_changed_at stays, no
// session ends, no reset link ends and no password.changed event is
// queued. When no hashing slot is free for it, the upgrade waits for the
// next sign-in; the answer is valid all the same.
//
// Errors: models.ErrInvalidUserID, models.ErrInvalidEmail, the problem
// invalid_client_ip, models.RateLimited, models.ErrHashBusy, a wrapped
// database error.
func (p *Passwords) SignIn(ctx context.Context, c models.Client, in models.SignIn) (models.SignInResult, error) {
	if err := checkSignIn(in); err != nil {
		return models.SignInResult{}, err
	}
	// The client's count and the account's lookup are independent round
	// trips; they run at once, and the count decides first.
	attempt := goSafely(func() error {
		return p.counted(in.ClientIP, func() error { return p.Limits.SignInAttempt(ctx, in.ClientIP) })
	})
	u, found, err := p.signInAccount(ctx, in)
	if aerr := <-attempt; aerr != nil {
		return models.SignInResult{}, p.signInLimited(ctx, c, aerr, LimitSignInIP, "", in.ClientIP)
	}
	if err != nil {
		p.giveBackSignIn(ctx, in.ClientIP, "")
		return models.SignInResult{}, fmt.Errorf("sign in: %w", err)
	}
	subject, stored := p.unknownSubject(in), p.Hasher.DummyHash()
	if found {
		subject = signInSubject(u.ID)
		if u.PasswordHash != "" {
			stored = u.PasswordHash
		}
	}
	if err := p.Limits.ChangeAttempt(ctx, subject); err != nil {
		p.giveBackSignIn(ctx, in.ClientIP, "")
		return models.SignInResult{}, p.signInLimited(ctx, c, err, LimitSignInAccount, u.ID, in.ClientIP)
	}
	cmp, err := p.Hasher.Compare(ctx, in.Password, stored)
	if err != nil {
		// Not checked: neither count may keep it.
		p.giveBackSignIn(ctx, in.ClientIP, subject)
		return models.SignInResult{}, err
	}
	if !cmp.Match { // an unknown account's dummy hash never matches
		p.event(ctx, c, "sign_in_failed", slog.String("user_id", u.ID), slog.String("client_ip", in.ClientIP))
		p.observeSignIn(SignInInvalid)
		return models.SignInResult{Valid: false}, nil
	}
	// Right: both counts forget it, while an outdated hash is replaced.
	defer p.alongside(ctx, "clear sign-in counts", func(ctx context.Context) error {
		return errors.Join(p.Limits.ChangeSucceeded(ctx, subject), p.counted(in.ClientIP, func() error {
			return p.Limits.SignInValid(ctx, in.ClientIP)
		}))
	})()
	outcome := SignInValid
	if cmp.Outdated && p.upgrade(ctx, u, in.Password) {
		outcome = SignInRehashed
	}
	p.event(ctx, c, "sign_in_succeeded", slog.String("user_id", u.ID), slog.String("client_ip", in.ClientIP),
		slog.Bool("rehashed", outcome == SignInRehashed))
	p.observeSignIn(outcome)
	return models.SignInResult{Valid: true, ID: u.ID, PasswordChangedAt: u.PasswordChangedAt.UTC()}, nil
}

// checkSignIn refuses a check that names no account, or both ways, or a
// client IP that is none.
func checkSignIn(in models.SignIn) error {
	switch {
	case (in.ID == "") == (in.Email == ""):
		return models.ErrInvalidBody
	case in.ID != "":
		if err := models.ValidateUserID(in.ID); err != nil {
			return invalidID(err)
		}
	default:
		if err := models.ValidateEmail(in.Email); err != nil {
			return err
		}
	}
	if in.ClientIP != "" {
		if _, err := netip.ParseAddr(in.ClientIP); err != nil {
			return errBadClientIP
		}
	}
	return nil
}

// signInAccount finds the account the check names; found is false when
// there is none.
func (p *Passwords) signInAccount(ctx context.Context, in models.SignIn) (models.User, bool, error) {
	var u models.User
	var err error
	if in.ID != "" {
		u, err = p.DB.UserByID(ctx, in.ID)
	} else {
		u, err = p.DB.UserByEmailKey(ctx, models.EmailKey(in.Email))
	}
	if errors.Is(err, store.ErrNotFound) {
		return models.User{}, false, nil
	}
	return u, err == nil, err
}

// signInSubject keys the sign-in check's back-off of the account id: apart
// from the {"old","new"} back-off (keyed by the bare id), so that whoever
// can reach the application's sign-in form, and so guess, cannot hold up
// the signed-in person's change of password; '#' is no character of an id,
// so no id is ever such a key.
func signInSubject(id string) string { return "#sign-in:" + id }

// unknownSubject keys the back-off of a check that found no account: a
// keyed pseudonym of the address or the id (Pseudonymizer), so that the
// table holds no address nor a hash a dictionary could reverse, and so that
// an account created later under that id does not inherit the failures
// made against it before it existed.
func (p *Passwords) unknownSubject(in models.SignIn) string {
	if in.ID != "" {
		return signInSubject(p.Pseudo.ID(in.ID))
	}
	return signInSubject(p.Pseudo.Email(in.Email))
}

// upgrade replaces u's outdated hash with one of password under the current
// parameters and pepper, guarded by the hash that was verified. It reports
// whether it did; a busy pool or a change that committed meanwhile skips
// it, and the next sign-in tries again.
func (p *Passwords) upgrade(ctx context.Context, u models.User, password string) bool {
	phc, err := p.Hasher.Hash(ctx, models.NormalizePassword(password))
	if err == nil {
		err = p.DB.RehashPassword(ctx, u.ID, u.PasswordHash, phc, p.Now())
	}
	switch {
	case err == nil:
		return true
	case errors.Is(err, store.ErrConflict):
		// The password changed since it was verified: that one stands.
	default:
		p.Log.WarnContext(ctx, "upgrade hash at sign-in", slog.String("user_id", u.ID), slog.String("error", err.Error()))
	}
	return false
}

// signInLimited logs and reports a check refused by limit: err is
// models.RateLimited, or a database error met while counting.
func (p *Passwords) signInLimited(ctx context.Context, c models.Client, err error, limit, userID, clientIP string) error {
	if models.KindOf(err) != models.KindRateLimited {
		return fmt.Errorf("sign in: %w", err)
	}
	p.throttled(ctx, c, limit, slog.String("user_id", userID), slog.String("client_ip", clientIP))
	p.observeSignIn(SignInLimited)
	return err
}

// giveBackSignIn gives back the counts of a check that was not made: the
// client's, and the account's when subject is set.
func (p *Passwords) giveBackSignIn(ctx context.Context, clientIP, subject string) {
	p.settle(ctx, "give back sign-in attempt", func(ctx context.Context) error {
		err := p.counted(clientIP, func() error { return p.Limits.SignInValid(ctx, clientIP) })
		if subject != "" {
			err = errors.Join(err, p.Limits.ChangeUnchecked(ctx, subject))
		}
		return err
	})
}

// counted runs f, a per-client count, only when the check names a client.
func (p *Passwords) counted(clientIP string, f func() error) error {
	if clientIP == "" {
		return nil
	}
	return f()
}

func (p *Passwords) observeSignIn(outcome string) {
	if p.Observer != nil {
		p.Observer.ObserveSignIn(outcome)
	}
}
