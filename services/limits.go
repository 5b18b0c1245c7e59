package services

import "context"

// Limits holds the rate limits. This is the seam; the shared, database-backed
// counters come with the abuse-resistance work.
type Limits struct{}

// Admit applies the coarse per-client ceiling.
func (l *Limits) Admit(ctx context.Context, ip string) error { return nil }

// ResetRequestByClient limits {"email"} requests per client (429).
func (l *Limits) ResetRequestByClient(ctx context.Context, ip string) error { return nil }

// ResetRequestByAddress counts a request for an address; false means over
// quota (answer 202 all the same, send nothing).
func (l *Limits) ResetRequestByAddress(ctx context.Context, key string) (bool, error) {
	return true, nil
}

// TokenGuessing refuses a client with too many failed tokens (429).
func (l *Limits) TokenGuessing(ctx context.Context, ip string) error { return nil }

// TokenFailed counts a failed token; it returns models.RateLimited when this
// failure crosses the limit.
func (l *Limits) TokenFailed(ctx context.Context, ip string) error { return nil }

// ChangeAllowed refuses an account inside its wrong-old-password back-off.
func (l *Limits) ChangeAllowed(ctx context.Context, userID string) error { return nil }

// ChangeFailed counts a wrong old password.
func (l *Limits) ChangeFailed(ctx context.Context, userID string) error { return nil }

// ChangeSucceeded clears the account's failure count.
func (l *Limits) ChangeSucceeded(ctx context.Context, userID string) error { return nil }
