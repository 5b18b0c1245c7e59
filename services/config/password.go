package config

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"time"
)

// Defaults and bounds of the password section.
const (
	// DefaultArgon2Memory, DefaultArgon2Time and DefaultArgon2Threads are
	// RFC 9106's second recommended option: 64 MiB, 3 passes, 4 lanes.
	DefaultArgon2Memory  = 64 * 1024
	DefaultArgon2Time    = 3
	DefaultArgon2Threads = 4
	// FloorArgon2Memory and FloorArgon2Time are the lowest cost accepted
	// from configuration: 19 MiB and 2 passes (the OWASP minimum).
	FloorArgon2Memory = 19456
	FloorArgon2Time   = 2
	// MaxArgon2Memory, MaxArgon2Time and MaxArgon2Threads bound parameters
	// read back from a stored hash too, so a tampered row cannot make a
	// verification allocate gigabytes.
	MaxArgon2Memory  = 1 << 20
	MaxArgon2Time    = 16
	MaxArgon2Threads = 64

	DefaultHashWait = 200 * time.Millisecond

	// DefaultMaxBcryptCost caps the cost of a bcrypt hash an import accepts.
	// Each step doubles the work: cost 12 (the default of PHP 8.4, Laravel
	// and Rails) takes about 0.25 s on a 2-core VM, 14 about 1 s, and a
	// verification holds a hashing slot for that long (twice for a password
	// tried as sent and as NFKC). 14 is above every framework's default, so
	// no hash made with one is refused, and it keeps a verification well
	// inside DefaultVerifyTimeout; 31, bcrypt's own maximum, would hold a
	// slot for days. MinBcryptCost and MaxBcryptCost bound the setting: the
	// costs bcrypt defines.
	DefaultMaxBcryptCost = 14
	MinBcryptCost        = 4
	MaxBcryptCost        = 31
	// DefaultMaxPBKDF2Iterations caps the iterations of a Django
	// pbkdf2_sha256 hash an import accepts: Django 5.2's default, about
	// 0.17 s here. Django raises its default with most releases, so hashes
	// of a newer Django may need a higher setting, up to
	// MaxPBKDF2Iterations (about 0.7 s); MinPBKDF2Iterations is Django's
	// default when it adopted PBKDF2, and no hash has fewer.
	DefaultMaxPBKDF2Iterations = 1_000_000
	MinPBKDF2Iterations        = 10_000
	MaxPBKDF2Iterations        = 4_000_000
	// DefaultVerifyTimeout bounds one verification of a stored hash inside
	// its slot; past it the request answers 503 + Retry-After and the slot
	// is free. With the wait for a slot, the new hash and the database's
	// 5 s per transaction it keeps a change within the request's 10 s.
	// MaxVerifyTimeout is the most that still does.
	DefaultVerifyTimeout = 3 * time.Second
	MaxVerifyTimeout     = 4 * time.Second
	DefaultPepperID      = "1"
	// MinPepperBytes is the shortest pepper accepted, current or retired.
	MinPepperBytes = 32
	// MaxPepperIDLen bounds a pepper id, which is stored in every hash.
	MaxPepperIDLen = 32

	DefaultMinScore           = 3
	DefaultContextWord        = "accountpw"
	DefaultBreachCheckBaseURL = "https://api.pwnedpasswords.com"
	DefaultBreachCheckTimeout = 2 * time.Second
)

// Argon2 is an argon2id cost: memory in KiB, passes and lanes.
type Argon2 struct {
	Memory  uint32 `yaml:"argon2_memory_kib" env:"ARGON2_MEMORY_KIB"`
	Time    uint32 `yaml:"argon2_time" env:"ARGON2_TIME"`
	Threads uint8  `yaml:"argon2_threads" env:"ARGON2_THREADS"`
}

// CheckBounds reports whether a is within the bounds any hash may use, ours
// or a stored one: RFC 9106 requires at least 8 KiB of memory per lane.
func (a Argon2) CheckBounds() error {
	if a.Memory > MaxArgon2Memory || a.Memory < 8*uint32(a.Threads) || a.Time < 1 || a.Time > MaxArgon2Time ||
		a.Threads < 1 || a.Threads > MaxArgon2Threads {
		return fmt.Errorf("argon2 parameters m=%d,t=%d,p=%d out of bounds (m ≤ %d and ≥ 8·p, 1 ≤ t ≤ %d, 1 ≤ p ≤ %d)",
			a.Memory, a.Time, a.Threads, MaxArgon2Memory, MaxArgon2Time, MaxArgon2Threads)
	}
	return nil
}

// BreachCheck configures the optional Pwned Passwords range check.
type BreachCheck struct {
	Enabled bool          `yaml:"enabled" env:"ENABLED"`
	BaseURL string        `yaml:"base_url" env:"BASE_URL"`
	Timeout time.Duration `yaml:"timeout" env:"TIMEOUT"`
	// FailClosed refuses passwords (503) when the range API cannot be
	// asked; by default an outage skips the check.
	FailClosed bool `yaml:"fail_closed" env:"FAIL_CLOSED"`
}

// Password configures hashing and the password policy.
type Password struct {
	Argon2 `yaml:",inline"`
	// HashSlots bounds concurrent hashes and strength estimates; 0 means
	// GOMAXPROCS (see Slots).
	HashSlots int `yaml:"hash_slots" env:"HASH_SLOTS"`
	// HashWait is how long a request waits for a free slot before 503.
	HashWait time.Duration `yaml:"hash_wait" env:"HASH_WAIT"`
	// VerifyTimeout bounds one verification of a stored hash in its slot.
	VerifyTimeout time.Duration `yaml:"verify_timeout" env:"VERIFY_TIMEOUT"`
	// MaxBcryptCost and MaxPBKDF2Iterations cap the cost of the hashes an
	// import accepts; hashes stored before a lower cap are still verified,
	// within VerifyTimeout.
	MaxBcryptCost       int    `yaml:"max_bcrypt_cost" env:"MAX_BCRYPT_COST"`
	MaxPBKDF2Iterations int    `yaml:"max_pbkdf2_iterations" env:"MAX_PBKDF2_ITERATIONS"`
	Pepper              string `yaml:"-" env:"PEPPER"`
	PepperID            string `yaml:"pepper_id" env:"PEPPER_ID"`
	// OldPeppers are retired peppers, "id:secret,id:secret".
	OldPeppers   string      `yaml:"-" env:"OLD_PEPPERS"`
	MinScore     int         `yaml:"min_score" env:"MIN_SCORE"`
	ContextWords []string    `yaml:"context_words" env:"CONTEXT_WORDS"`
	BreachCheck  BreachCheck `yaml:"breach_check" envPrefix:"BREACH_CHECK_"`
}

// DefaultPassword returns the password section's defaults.
func DefaultPassword() Password {
	return Password{
		Argon2:   Argon2{Memory: DefaultArgon2Memory, Time: DefaultArgon2Time, Threads: DefaultArgon2Threads},
		HashWait: DefaultHashWait, PepperID: DefaultPepperID, MinScore: DefaultMinScore,
		VerifyTimeout: DefaultVerifyTimeout, MaxBcryptCost: DefaultMaxBcryptCost,
		MaxPBKDF2Iterations: DefaultMaxPBKDF2Iterations,
		ContextWords:        []string{DefaultContextWord},
		BreachCheck:         BreachCheck{BaseURL: DefaultBreachCheckBaseURL, Timeout: DefaultBreachCheckTimeout},
	}
}

// Validate checks the section.
func (pw Password) Validate() error {
	var p problems
	if err := pw.Argon2.CheckBounds(); err != nil {
		p = append(p, err)
	} else if pw.Memory < FloorArgon2Memory || pw.Time < FloorArgon2Time {
		p.add("password.argon2_memory_kib and argon2_time must be at least %d and %d (the OWASP minimum)",
			FloorArgon2Memory, FloorArgon2Time)
	}
	if pw.HashSlots < 0 {
		p.add("password.hash_slots must be 0 (GOMAXPROCS) or more, got %d", pw.HashSlots)
	}
	if pw.HashWait <= 0 {
		p.add("password.hash_wait must be positive, got %s", pw.HashWait)
	}
	if pw.VerifyTimeout <= 0 || pw.VerifyTimeout > MaxVerifyTimeout {
		p.add("password.verify_timeout must be positive and at most %s, got %s", MaxVerifyTimeout, pw.VerifyTimeout)
	}
	if pw.MaxBcryptCost < MinBcryptCost || pw.MaxBcryptCost > MaxBcryptCost {
		p.add("password.max_bcrypt_cost must be %d–%d, got %d", MinBcryptCost, MaxBcryptCost, pw.MaxBcryptCost)
	}
	if pw.MaxPBKDF2Iterations < MinPBKDF2Iterations || pw.MaxPBKDF2Iterations > MaxPBKDF2Iterations {
		p.add("password.max_pbkdf2_iterations must be %d–%d, got %d", MinPBKDF2Iterations, MaxPBKDF2Iterations, pw.MaxPBKDF2Iterations)
	}
	if _, err := pw.Peppers(); err != nil {
		p = append(p, err)
	}
	if pw.MinScore < 1 || pw.MinScore > 4 {
		p.add("password.min_score must be 1–4, got %d", pw.MinScore)
	}
	if pw.BreachCheck.Enabled && pw.BreachCheck.Timeout <= 0 {
		p.add("password.breach_check.timeout must be positive, got %s", pw.BreachCheck.Timeout)
	}
	return p.err()
}

// Slots is the number of concurrent hashes and strength estimates:
// HashSlots, or GOMAXPROCS when it is 0.
func (pw Password) Slots() int {
	if pw.HashSlots > 0 {
		return pw.HashSlots
	}
	return runtime.GOMAXPROCS(0)
}

// Peppers returns the current pepper's id ("" when there is none) and every
// pepper by id, current and retired. Every entry of OldPeppers must be
// "id:secret"; each id must be a valid pepper id and each secret at least
// MinPepperBytes long, and no id may appear twice.
func (pw Password) Peppers() (map[string][]byte, error) {
	out := map[string][]byte{}
	var p problems
	add := func(what, id, key string) {
		switch {
		case !ValidPepperID(id):
			p.add("%s: id %q must be 1–%d of [A-Za-z0-9_-]", what, id, MaxPepperIDLen)
		case len(key) < MinPepperBytes:
			p.add("%s %q must have at least %d bytes", what, id, MinPepperBytes)
		case out[id] != nil:
			p.add("%s: pepper id %q is given twice", what, id)
		default:
			out[id] = []byte(key)
		}
	}
	if pw.Pepper != "" {
		add("ACCOUNTPW_PASSWORD_PEPPER", pw.PepperID, pw.Pepper)
	}
	if strings.TrimSpace(pw.OldPeppers) != "" {
		for i, entry := range strings.Split(pw.OldPeppers, ",") {
			id, key, ok := strings.Cut(strings.TrimSpace(entry), ":")
			if !ok {
				// Never echo the entry: it is a secret.
				p = append(p, fmt.Errorf("ACCOUNTPW_PASSWORD_OLD_PEPPERS entry %d is not id:secret", i+1))
				continue
			}
			add("ACCOUNTPW_PASSWORD_OLD_PEPPERS entry", id, key)
		}
	}
	if len(p) > 0 {
		return nil, errors.Join(p...)
	}
	return out, nil
}

// CurrentPepperID is the id new hashes are made under, "" without a pepper.
func (pw Password) CurrentPepperID() string {
	if pw.Pepper == "" {
		return ""
	}
	return pw.PepperID
}

// ValidPepperID reports whether id can name a pepper inside a stored hash:
// 1–32 of [A-Za-z0-9_-].
func ValidPepperID(id string) bool {
	const chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"
	return id != "" && len(id) <= MaxPepperIDLen && strings.Trim(id, chars) == ""
}
