// Package ratelimit holds the rate limits, counted in the database through
// store so that every replica shares them: fixed windows per client IP and
// per submitted address, token guesses per client IP, and the back-off on
// wrong old passwords per account.
//
// It imports models, config and store; the SQL itself is store's.
package ratelimit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/netip"
	"time"

	"github.com/accountpw/accountpw/models"
	"github.com/accountpw/accountpw/services/config"
	"github.com/accountpw/accountpw/services/store"
)

// Limits counts requests in the database. Windows are fixed and aligned to
// their size on the Unix clock (minutes, quarter hours, hours, UTC days), so
// a client can spend up to twice a limit across a window boundary; each count
// is one atomic upsert. A request refused by a shorter window does not count
// in the longer one.
//
// Nothing here locks an account. Per-IP limits bind only that IP. The
// per-address quota only stops emails, silently, for known and unknown
// addresses alike, so it says nothing about accounts; someone who spends it
// can delay a person's reset email by at most one window. The back-off on
// wrong old passwords always ends and leaves the reset flow open: with the
// defaults an account takes ten wrong old passwords, then waits 1, 2, 4, 8,
// 16 and 32 minutes and then an hour between single tries. Requesting a reset
// clears no counter. A token attempt is counted before its token is looked
// up and given back when the token proves genuine, so only guesses count and
// concurrent guesses cannot overtake the limit.
//
// A nil or zero *Limits, like one made with Disabled set, allows
// everything.
type Limits struct {
	db  *store.DB
	cfg config.Limits
	now func() time.Time
}

// New returns limits counted in db under cfg (which must have passed
// Validate), read against now.
func New(db *store.DB, cfg config.Limits, now func() time.Time) *Limits {
	if cfg.Disabled {
		return nil
	}
	return &Limits{db: db, cfg: cfg, now: now}
}

func (l *Limits) off() bool { return l == nil || l.db == nil }

// hit counts one event in the current window of r for bucket and returns how
// long until that window ends if the count is now over r.Max, else zero.
func (l *Limits) hit(ctx context.Context, q store.Queries, name, subject string, r config.Rate) (time.Duration, error) {
	now := l.now()
	bucket, start, end := window(name, subject, r, now)
	hits, err := q.CountHit(ctx, bucket, start, end.Unix())
	if err != nil {
		return 0, fmt.Errorf("rate limit %s: %w", name, err)
	}
	if hits > int64(r.Max) {
		return end.Sub(now), nil
	}
	return 0, nil
}

// window returns the bucket key and the bounds of the window of r holding now.
func window(name, subject string, r config.Rate, now time.Time) (bucket string, start int64, end time.Time) {
	size := int64(r.Per / time.Second)
	start = now.Unix() - now.Unix()%size
	return fmt.Sprintf("%s/%d:%s", name, size, subject), start, time.Unix(start+size, 0).UTC()
}

// limited counts an event in each rate in turn and stops at the first one
// over quota, returning how long until its window resets.
func (l *Limits) limited(ctx context.Context, q store.Queries, name, subject string, rates ...config.Rate) (time.Duration, error) {
	for _, r := range rates {
		if retry, err := l.hit(ctx, q, name, subject, r); err != nil || retry > 0 {
			return retry, err
		}
	}
	return 0, nil
}

// Admit applies the coarse per-client ceiling on every request of the
// resource. Errors: models.RateLimited, a wrapped database error.
func (l *Limits) Admit(ctx context.Context, ip string) error {
	if l.off() {
		return nil
	}
	return rateLimited(l.limited(ctx, l.db.Queries, "ip", clientKey(ip), l.cfg.Client()))
}

// ResetRequest applies both {"email"} limits inside tx, so that they and the
// enqueue that follows commit once: per client first (models.RateLimited),
// then per address key, known or not (false: over quota; answer 202 all the
// same and send nothing). The per-address bucket holds a hash of the key,
// never the address. The counts of a refused request are kept: the caller
// commits tx whatever the outcome. Errors: models.RateLimited, a wrapped
// database error.
func (l *Limits) ResetRequest(ctx context.Context, tx *store.Tx, ip, key string) (bool, error) {
	if l.off() {
		return true, nil
	}
	if err := rateLimited(l.limited(ctx, tx.Queries, "reset_ip", clientKey(ip), l.cfg.ResetClient()...)); err != nil {
		return false, err
	}
	sum := sha256.Sum256([]byte("addr:" + key))
	retry, err := l.limited(ctx, tx.Queries, "reset_addr", hex.EncodeToString(sum[:]), l.cfg.ResetAddress()...)
	return err == nil && retry == 0, err
}

// clientKey is the subject of a per-client bucket: the IPv4 address, or the
// /64 of an IPv6 address, since one host routinely holds a whole /64 and
// could otherwise spread its requests over 2^64 buckets.
func clientKey(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	a = a.Unmap()
	if a.Is4() {
		return a.String()
	}
	p, _ := a.Prefix(64)
	return p.String()
}

func rateLimited(retry time.Duration, err error) error {
	if err != nil || retry <= 0 {
		return err
	}
	return models.RateLimited(retry)
}

// TokenAttempt counts a {"token","new"} attempt for the client IP before
// the token is looked up, and refuses the attempt after TokenFailures.Max in
// the window: counting first means concurrent guesses cannot all be looked
// up before any is counted. Errors: models.RateLimited, a wrapped database
// error.
func (l *Limits) TokenAttempt(ctx context.Context, ip string) error {
	if l.off() {
		return nil
	}
	return rateLimited(l.hit(ctx, l.db.Queries, "token_fail", clientKey(ip), l.cfg.TokenFailures()))
}

// TokenValid gives back the attempt of a client whose token was genuine, so
// that only failed tokens count. Errors: a wrapped database error.
func (l *Limits) TokenValid(ctx context.Context, ip string) error {
	if l.off() {
		return nil
	}
	bucket, start, _ := window("token_fail", clientKey(ip), l.cfg.TokenFailures(), l.now())
	if err := l.db.GiveBackHit(ctx, bucket, start); err != nil {
		return fmt.Errorf("rate limit token_fail: %w", err)
	}
	return nil
}

// Cleanup deletes counters whose window ended more than 24 hours ago and
// change back-off state that no longer affects anything, returning how many
// rows went. Errors: a wrapped database error.
func (l *Limits) Cleanup(ctx context.Context) (int64, error) {
	if l.off() {
		return 0, nil
	}
	now := l.now()
	n, err := l.db.DeleteCountersEndedBefore(ctx, now.Add(-24*time.Hour).Unix())
	if err != nil {
		return 0, fmt.Errorf("rate limit cleanup: %w", err)
	}
	stale := now.Add(-max(config.ChangeFailuresForgetAfter, l.cfg.ChangeBackoffMax)).Unix()
	m, err := l.db.DeleteChangeFailuresBefore(ctx, stale)
	if err != nil {
		return n, fmt.Errorf("rate limit cleanup: %w", err)
	}
	return n + m, nil
}
