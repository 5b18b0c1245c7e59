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
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/accountpw/accountpw/models"
	"github.com/accountpw/accountpw/services/batch"
	"github.com/accountpw/accountpw/services/config"
	"github.com/accountpw/accountpw/services/store"
)

// Limits counts requests in the database. Windows are fixed and aligned to
// their size on the Unix clock (minutes, quarter hours, hours, UTC days), so
// a client can spend up to twice a limit across a window boundary. Counting
// is exact at the boundary however many requests arrive at once, from one
// replica or several: the 10th request in a window of 10 passes and the 11th
// is refused. A request refused by a shorter window does not count in the
// longer one.
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
// Names of the limits, as a refusal reports them (ResetVerdict.LimitedBy)
// and as security events and metrics name them.
const (
	LimitClientCeiling    = "client_ceiling"     // every request to the resource, per client
	LimitResetRequestIP   = "reset_request_ip"   // {"email"} per client
	LimitTokenFailuresIP  = "token_failures_ip"  // failed reset tokens per client
	LimitWrongOldPassword = "wrong_old_password" // the change back-off, per account
	LimitSignInIP         = "sign_in_ip"         // failed sign-in checks per client
	LimitSignInAccount    = "sign_in_account"    // the same back-off, reached by the sign-in check
)

// The per-client ceiling (Admit) is counted through a group-commit batcher:
// concurrent requests share one statement. A nil or zero *Limits, like one
// made with Disabled set, allows everything.
type Limits struct {
	db    *store.DB
	cfg   config.Limits
	now   func() time.Time
	admit *batch.Batcher[string, error]
}

// New returns limits counted in db under cfg (which must have passed
// Validate), read against now. Close stops its batcher.
func New(db *store.DB, cfg config.Limits, now func() time.Time) *Limits {
	if cfg.Disabled {
		return nil
	}
	l := &Limits{db: db, cfg: cfg, now: now}
	l.admit = batch.New(batch.ForDatabase(db.Postgres()), l.admitBatch)
	return l
}

// Close lets the requests already waiting for the ceiling finish, then
// refuses new ones (models.ErrUnavailable), within ctx.
func (l *Limits) Close(ctx context.Context) error {
	if l.off() {
		return nil
	}
	return l.admit.Close(ctx)
}

func (l *Limits) off() bool { return l == nil || l.db == nil }

// window returns the bucket key and the bounds of the window of r holding now.
func window(name, subject string, r config.Rate, now time.Time) (bucket string, start int64, end time.Time) {
	size := int64(r.Per / time.Second)
	start = now.Unix() - now.Unix()%size
	return fmt.Sprintf("%s/%d:%s", name, size, subject), start, time.Unix(start+size, 0).UTC()
}

// Admit applies the coarse per-client ceiling on every request of the
// resource. Errors: models.RateLimited, models.ErrUnavailable (closing), a
// wrapped database error.
func (l *Limits) Admit(ctx context.Context, ip string) error {
	if l.off() {
		return nil
	}
	refused, err := l.admit.Do(ctx, ip)
	if errors.Is(err, batch.ErrClosed) || errors.Is(err, batch.ErrFull) {
		return models.ErrUnavailable
	}
	return errors.Join(err, refused)
}

// admitBatch counts the ceiling of many requests in one statement: one step
// each, so nothing is ever given back and no transaction is needed.
func (l *Limits) admitBatch(ctx context.Context, ips []string) ([]error, error) {
	plans := make([][]step, len(ips))
	for i, ip := range ips {
		plans[i] = []step{{"ip", clientKey(ip), l.cfg.Client()}}
	}
	verdicts, err := l.decide(ctx, l.db.Queries, plans)
	if err != nil {
		return nil, err
	}
	out := make([]error, len(ips))
	for i, v := range verdicts {
		if v.refused >= 0 {
			out[i] = models.RateLimited(v.retry)
		}
	}
	return out, nil
}

// ResetRequest is the client's IP and the address key of one {"email"}.
type ResetRequest struct {
	IP, Key string
}

// ReasonAddressQuota is why a ResetVerdict that is not Limited does not
// Send: the submitted address had all the emails its quota allows for now.
const ReasonAddressQuota = "address_quota"

// ResetVerdict is the outcome of a ResetRequest: Limited (models.RateLimited,
// per client: answer 429; LimitedBy names the limit, client_ceiling or
// reset_request_ip) or Send (false: over the per-address quota; answer 202
// all the same and send nothing; the reason is ReasonAddressQuota). Quota
// then names the setting of the window that is full
// (config.ResetAddressKeys), for the log only: the answer must never say.
type ResetVerdict struct {
	Limited   error
	LimitedBy string
	Send      bool
	Quota     string
}

// ResetRequests applies the {"email"} limits to many requests inside tx, so
// that they and the enqueue that follows commit once, deciding each request
// as if they came one after the other: the per-client ceiling that every
// request of the resource counts against (see Admit), then the client's
// {"email"} requests (a minute, then an hour), then the address key, known or
// not (a quarter hour, then a day).
// The per-address bucket holds a hash of the key, never the address. The
// counts of a refused request are kept. Errors: a wrapped database error
// (for the whole batch).
func (l *Limits) ResetRequests(ctx context.Context, tx *store.Tx, reqs []ResetRequest) ([]ResetVerdict, error) {
	out := make([]ResetVerdict, len(reqs))
	if l.off() {
		for i := range out {
			out[i].Send = true
		}
		return out, nil
	}
	client, address := l.cfg.ResetClient(), l.cfg.ResetAddress()
	plans := make([][]step, len(reqs))
	for i, r := range reqs {
		addr := addressSubject(r.Key)
		ip := clientKey(r.IP)
		plans[i] = []step{{"ip", ip, l.cfg.Client()}, {"reset_ip", ip, client[0]}, {"reset_ip", ip, client[1]},
			{"reset_addr", addr, address[0]}, {"reset_addr", addr, address[1]}}
	}
	verdicts, err := l.decide(ctx, tx.Queries, plans)
	if err != nil {
		return nil, err
	}
	for i, v := range verdicts {
		switch {
		case v.refused == 0:
			out[i].Limited, out[i].LimitedBy = models.RateLimited(v.retry), LimitClientCeiling
		case v.refused > 0 && v.refused <= len(client):
			out[i].Limited, out[i].LimitedBy = models.RateLimited(v.retry), LimitResetRequestIP
		case v.refused < 0:
			out[i].Send = true
		default:
			out[i].Quota = config.ResetAddressKeys[v.refused-1-len(client)]
		}
	}
	return out, nil
}

// AddressQuota counts one reset email to the address key against the
// per-address quota, inside tx (with the job it allows), for a reset that
// no client asked for: the admin API's support reset. Over the quota it
// counts nothing more and returns models.RateLimited with the wait until
// the window that refused it ends. Errors: models.RateLimited, a wrapped
// database error.
func (l *Limits) AddressQuota(ctx context.Context, tx *store.Tx, key string) error {
	if l.off() {
		return nil
	}
	address, subject := l.cfg.ResetAddress(), addressSubject(key)
	v, err := l.decide(ctx, tx.Queries, [][]step{{{"reset_addr", subject, address[0]}, {"reset_addr", subject, address[1]}}})
	if err != nil || v[0].refused < 0 {
		return err
	}
	return models.RateLimited(v[0].retry)
}

// addressSubject is the subject of a per-address bucket: a hash of the
// lookup key, so the counters are no list of addresses.
func addressSubject(key string) string {
	sum := sha256.Sum256([]byte("addr:" + key))
	return hex.EncodeToString(sum[:])
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
