package services

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/netip"
	"time"

	"github.com/accountpw/accountpw/models"
	"gorm.io/gorm"
)

// Rate allows Max events per fixed window of length Per (whole seconds).
type Rate struct {
	Max int
	Per time.Duration
}

// LimitsConfig sets the rate limits (R-RATE-9). A zero field takes the
// default given with it.
type LimitsConfig struct {
	// Disabled turns every limit off; only for load and timing tests (R-ENUM-2).
	Disabled bool
	// Client caps every request to the resource per client IP (Admit, 429).
	// Default 120 per minute.
	Client Rate
	// ResetClient and ResetClientLong cap {"email"} requests per client IP
	// (429). Defaults 10 per minute and 50 per hour.
	ResetClient, ResetClientLong Rate
	// ResetAddress and ResetAddressLong cap reset emails per submitted
	// address, known or not; over quota the request still gets its 202 and
	// queues nothing. Defaults 3 per 15 minutes and 10 per 24 hours.
	ResetAddress, ResetAddressLong Rate
	// TokenFailures caps failed reset tokens per client IP: Max failures get
	// their 403, every later attempt a 429 until the window ends. Default 10
	// per 15 minutes.
	TokenFailures Rate
	// ChangeFailures: Max is how many consecutive wrong old passwords an
	// account may collect before back-off; the count is forgotten at the next
	// success or after Per without a failure. Defaults 10 and 24 hours.
	ChangeFailures Rate
	// ChangeBackoff and ChangeBackoffMax: from the Max-th failure on, the
	// account waits ChangeBackoff·2^(failures−Max) after its latest failure,
	// never more than ChangeBackoffMax. Defaults 1 minute and 1 hour.
	ChangeBackoff, ChangeBackoffMax time.Duration
}

func (c LimitsConfig) withDefaults() LimitsConfig {
	rate := func(r *Rate, n int, per time.Duration) {
		if r.Max <= 0 {
			r.Max = n
		}
		if r.Per <= 0 {
			r.Per = per
		}
		r.Per = max(r.Per.Truncate(time.Second), time.Second)
	}
	rate(&c.Client, 120, time.Minute)
	rate(&c.ResetClient, 10, time.Minute)
	rate(&c.ResetClientLong, 50, time.Hour)
	rate(&c.ResetAddress, 3, 15*time.Minute)
	rate(&c.ResetAddressLong, 10, 24*time.Hour)
	rate(&c.TokenFailures, 10, 15*time.Minute)
	rate(&c.ChangeFailures, 10, 24*time.Hour)
	if c.ChangeBackoff <= 0 {
		c.ChangeBackoff = time.Minute
	}
	if c.ChangeBackoffMax <= 0 {
		c.ChangeBackoffMax = time.Hour
	}
	return c
}

// Limits holds the rate limits, counted in the database so that every
// replica shares them. Windows are fixed and aligned to their size on the
// Unix clock (minutes, quarter hours, hours, UTC days), so a client can spend
// up to twice a limit across a window boundary; each is one atomic upsert.
// A request refused by a shorter window does not count in the longer one.
//
// Nothing here locks an account (R-LOCK-1): per-IP limits bind only that IP;
// the per-address quota only stops emails, silently, for known and unknown
// addresses alike (R-ENUM-3), and someone who spends it can delay a victim's
// reset email by at most one window; the change back-off is bounded and
// leaves the reset flow open (R-LOCK-2): with the defaults an account takes
// ten wrong old passwords, then waits 1, 2, 4, 8 and 15 minutes between
// single tries, at most 28 failures in any hour (NIST allows 100). Requesting
// a reset clears no counter (R-RATE-8). Token guesses are checked before and
// counted after the lookup, so guesses in flight together from one IP can
// overshoot by their number; each is still counted. The zero Limits allows
// everything.
type Limits struct {
	db  *DB
	cfg LimitsConfig
	now func() time.Time
}

// NewLimits returns limits counted in db under cfg, with the clock now
// (default time.Now).
func NewLimits(db *DB, cfg LimitsConfig, now func() time.Time) *Limits {
	if cfg.Disabled {
		return &Limits{}
	}
	clock := now
	if clock == nil {
		clock = time.Now
	}
	return &Limits{db: db, cfg: cfg.withDefaults(), now: func() time.Time { return clock().UTC() }}
}

func (l *Limits) off() bool { return l == nil || l.db == nil }

// hit counts one event in the current window of r for bucket and returns how
// long until that window ends if the count is now over r.Max, else zero.
func (l *Limits) hit(ctx context.Context, db *gorm.DB, name, subject string, r Rate) (time.Duration, error) {
	now := l.now()
	bucket, start, end := window(name, subject, r, now)
	var hits int64
	err := db.WithContext(ctx).Raw(`INSERT INTO rate_limit_counters (bucket, window_start, window_end, hits)
		VALUES (?, ?, ?, 1)
		ON CONFLICT (bucket, window_start) DO UPDATE SET hits = rate_limit_counters.hits + 1
		RETURNING hits`, bucket, start, end.Unix()).Scan(&hits).Error
	if err != nil {
		return 0, fmt.Errorf("rate limit %s: %w", name, err)
	}
	if hits > int64(r.Max) {
		return end.Sub(now), nil
	}
	return 0, nil
}

// window returns the bucket key and the bounds of the window of r holding now.
func window(name, subject string, r Rate, now time.Time) (bucket string, start int64, end time.Time) {
	size := int64(r.Per / time.Second)
	start = now.Unix() - now.Unix()%size
	return fmt.Sprintf("%s/%d:%s", name, size, subject), start, time.Unix(start+size, 0).UTC()
}

// limited counts an event in each rate in turn and stops at the first one
// over quota, returning how long until its window resets.
func (l *Limits) limited(ctx context.Context, db *gorm.DB, name, subject string, rates ...Rate) (time.Duration, error) {
	for _, r := range rates {
		if retry, err := l.hit(ctx, db, name, subject, r); err != nil || retry > 0 {
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
	return rateLimited(l.limited(ctx, l.db.Gorm, "ip", clientKey(ip), l.cfg.Client))
}

// ResetRequestByClient limits {"email"} requests per client IP. Errors:
// models.RateLimited, a wrapped database error.
func (l *Limits) ResetRequestByClient(ctx context.Context, ip string) error {
	if l.off() {
		return nil
	}
	return l.resetByClient(ctx, l.db.Gorm, ip)
}

func (l *Limits) resetByClient(ctx context.Context, db *gorm.DB, ip string) error {
	return rateLimited(l.limited(ctx, db, "reset_ip", clientKey(ip), l.cfg.ResetClient, l.cfg.ResetClientLong))
}

// ResetRequestByAddress counts a request for an address key, known or not;
// false means over quota (answer 202 all the same, send nothing). The bucket
// holds a hash of the key, never the address. Errors: a wrapped database error.
func (l *Limits) ResetRequestByAddress(ctx context.Context, key string) (bool, error) {
	if l.off() {
		return true, nil
	}
	return l.resetByAddress(ctx, l.db.Gorm, key)
}

func (l *Limits) resetByAddress(ctx context.Context, db *gorm.DB, key string) (bool, error) {
	sum := sha256.Sum256([]byte("addr:" + key))
	retry, err := l.limited(ctx, db, "reset_addr", hex.EncodeToString(sum[:]), l.cfg.ResetAddress, l.cfg.ResetAddressLong)
	return err == nil && retry == 0, err
}

// ResetRequest applies both {"email"} limits inside tx, so that they and the
// enqueue that follows commit once: per client first (models.RateLimited),
// then per address (false: over quota, silently). The counts of a refused
// request are kept: the caller commits tx whatever the outcome.
func (l *Limits) ResetRequest(ctx context.Context, tx *gorm.DB, ip, key string) (bool, error) {
	if l.off() {
		return true, nil
	}
	if err := l.resetByClient(ctx, tx, ip); err != nil {
		return false, err
	}
	return l.resetByAddress(ctx, tx, key)
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
	return rateLimited(l.hit(ctx, l.db.Gorm, "token_fail", clientKey(ip), l.cfg.TokenFailures))
}

// TokenValid gives back the attempt of a client whose token was genuine, so
// that only failed tokens count. Errors: a wrapped database error.
func (l *Limits) TokenValid(ctx context.Context, ip string) error {
	if l.off() {
		return nil
	}
	bucket, start, _ := window("token_fail", clientKey(ip), l.cfg.TokenFailures, l.now())
	err := l.db.Gorm.WithContext(ctx).Exec(`UPDATE rate_limit_counters SET hits = hits - 1
		WHERE bucket = ? AND window_start = ? AND hits > 0`, bucket, start).Error
	if err != nil {
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
	g := l.db.Gorm.WithContext(ctx)
	res := g.Exec(`DELETE FROM rate_limit_counters WHERE window_end < ?`, now.Add(-24*time.Hour).Unix())
	if res.Error != nil {
		return 0, fmt.Errorf("rate limit cleanup: %w", res.Error)
	}
	n := res.RowsAffected
	stale := now.Add(-max(l.cfg.ChangeFailures.Per, l.cfg.ChangeBackoffMax)).Unix()
	res = g.Exec(`DELETE FROM change_failures WHERE last_failure_at < ?`, stale)
	if res.Error != nil {
		return n, fmt.Errorf("rate limit cleanup: %w", res.Error)
	}
	return n + res.RowsAffected, nil
}
