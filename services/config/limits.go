package config

import "time"

// Defaults and bounds of the limits section.
const (
	DefaultClientPerMinute     = 120
	DefaultResetIPPerMinute    = 10
	DefaultResetIPPerHour      = 50
	DefaultResetAddressPer15m  = 3
	DefaultResetAddressPer24h  = 10
	DefaultTokenFailuresPer15m = 10
	// DefaultSignInFailuresPer15m is the admin API's sign-in check's
	// failures per client IP: more than the token guesses allowed, since
	// many people behind one address mistype, while a guesser who spreads
	// over accounts meets it long before any account's back-off matters.
	DefaultSignInFailuresPer15m = 50
	DefaultChangeFailures       = 10
	DefaultChangeBackoff        = time.Minute
	DefaultChangeBackoffMax     = time.Hour
	// MaxChangeFailures keeps the consecutive wrong old passwords an
	// account may collect before back-off below 100, the most that online
	// guessing should ever get against one account.
	MaxChangeFailures = 99
	// ChangeFailuresForgetAfter is how long a run of wrong old passwords is
	// remembered without a new failure.
	ChangeFailuresForgetAfter = 24 * time.Hour
)

// Limits are the rate limits, counted in the database so every replica
// shares them.
type Limits struct {
	// Disabled turns every limit off: only for benchmarks and load tests on
	// a private machine, never in production.
	Disabled             bool          `yaml:"disabled" env:"DISABLED"`
	ClientPerMinute      int           `yaml:"client_per_minute" env:"CLIENT_PER_MINUTE"`
	ResetIPPerMinute     int           `yaml:"reset_per_ip_per_minute" env:"RESET_PER_IP_PER_MINUTE"`
	ResetIPPerHour       int           `yaml:"reset_per_ip_per_hour" env:"RESET_PER_IP_PER_HOUR"`
	ResetAddressPer15m   int           `yaml:"reset_per_address_per_15m" env:"RESET_PER_ADDRESS_PER_15M"`
	ResetAddressPer24h   int           `yaml:"reset_per_address_per_24h" env:"RESET_PER_ADDRESS_PER_24H"`
	TokenFailuresPer15m  int           `yaml:"token_failures_per_ip_per_15m" env:"TOKEN_FAILURES_PER_IP_PER_15M"`
	SignInFailuresPer15m int           `yaml:"sign_in_failures_per_ip_per_15m" env:"SIGN_IN_FAILURES_PER_IP_PER_15M"`
	ChangeFailures       int           `yaml:"change_failures" env:"CHANGE_FAILURES"`
	ChangeBackoff        time.Duration `yaml:"change_backoff" env:"CHANGE_BACKOFF"`
	ChangeBackoffMax     time.Duration `yaml:"change_backoff_max" env:"CHANGE_BACKOFF_MAX"`
}

// DefaultLimits returns the limits section's defaults.
func DefaultLimits() Limits {
	return Limits{
		ClientPerMinute: DefaultClientPerMinute, ResetIPPerMinute: DefaultResetIPPerMinute,
		ResetIPPerHour: DefaultResetIPPerHour, ResetAddressPer15m: DefaultResetAddressPer15m,
		ResetAddressPer24h: DefaultResetAddressPer24h, TokenFailuresPer15m: DefaultTokenFailuresPer15m,
		SignInFailuresPer15m: DefaultSignInFailuresPer15m,
		ChangeFailures:       DefaultChangeFailures, ChangeBackoff: DefaultChangeBackoff, ChangeBackoffMax: DefaultChangeBackoffMax,
	}
}

// Rate allows Max events per fixed window of length Per.
type Rate struct {
	Max int
	Per time.Duration
}

// The windows of each limit. The limiter counts in these and nothing else.

// Client caps every request to the resource per client IP.
func (l Limits) Client() Rate { return Rate{l.ClientPerMinute, time.Minute} }

// ResetClient caps {"email"} requests per client IP: per minute, then per hour.
func (l Limits) ResetClient() []Rate {
	return []Rate{{l.ResetIPPerMinute, time.Minute}, {l.ResetIPPerHour, time.Hour}}
}

// ResetAddress caps reset emails per submitted address: per 15 minutes, then
// per day.
func (l Limits) ResetAddress() []Rate {
	return []Rate{{l.ResetAddressPer15m, 15 * time.Minute}, {l.ResetAddressPer24h, 24 * time.Hour}}
}

// ResetAddressKeys are the settings of ResetAddress's windows, in its
// order: what the log names when the quota stops an email, so that whoever
// runs into it knows what to raise.
var ResetAddressKeys = [...]string{"limits.reset_per_address_per_15m", "limits.reset_per_address_per_24h"}

// TokenFailures caps failed reset tokens per client IP.
func (l Limits) TokenFailures() Rate { return Rate{l.TokenFailuresPer15m, 15 * time.Minute} }

// SignInFailures caps failed sign-in checks per client IP.
func (l Limits) SignInFailures() Rate { return Rate{l.SignInFailuresPer15m, 15 * time.Minute} }

// Validate checks the section.
func (l Limits) Validate() error {
	var p problems
	for _, c := range []struct {
		key string
		n   int
	}{
		{"client_per_minute", l.ClientPerMinute}, {"reset_per_ip_per_minute", l.ResetIPPerMinute},
		{"reset_per_ip_per_hour", l.ResetIPPerHour}, {"reset_per_address_per_15m", l.ResetAddressPer15m},
		{"reset_per_address_per_24h", l.ResetAddressPer24h}, {"token_failures_per_ip_per_15m", l.TokenFailuresPer15m},
		{"sign_in_failures_per_ip_per_15m", l.SignInFailuresPer15m},
		{"change_failures", l.ChangeFailures},
	} {
		if c.n < 1 {
			p.add("limits.%s must be at least 1, got %d", c.key, c.n)
		}
	}
	if l.ChangeFailures > MaxChangeFailures {
		p.add("limits.change_failures must be at most %d: online guessing must stay below 100 tries", MaxChangeFailures)
	}
	if l.ChangeBackoff <= 0 || l.ChangeBackoffMax < l.ChangeBackoff {
		p.add("limits.change_backoff must be positive and at most limits.change_backoff_max")
	}
	return p.err()
}
