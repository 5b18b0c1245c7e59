package hash

import (
	"context"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/accountpw/accountpw/models"
	"github.com/accountpw/accountpw/services/config"
	"github.com/accountpw/accountpw/services/slots"
)

// The interruptible bcrypt computes what golang.org/x/crypto/bcrypt does:
// hashes that library makes, of random passwords (long ones, and bytes that
// are not UTF-8, included), verify, and a changed password does not.
func TestBcryptMatchesXCrypto(t *testing.T) {
	t.Parallel()
	for cost := 4; cost <= 8; cost++ {
		for _, n := range []int{1, 15, 71, 72} {
			pw := make([]byte, n)
			rand.Read(pw)
			made, err := bcrypt.GenerateFromPassword(pw, cost)
			if err != nil {
				t.Fatal(err)
			}
			s, err := parseBcrypt(string(made))
			if err != nil {
				t.Fatalf("cost %d, %d bytes: %v", cost, n, err)
			}
			if ok, err := s.matches(context.Background(), pw); !ok || err != nil {
				t.Errorf("cost %d, %d bytes: got %v %v, want a match", cost, n, ok, err)
			}
			pw[n-1] ^= 1
			if ok, err := s.matches(context.Background(), pw); ok || err != nil {
				t.Errorf("cost %d, %d bytes, last byte changed: got %v %v, want no match", cost, n, ok, err)
			}
		}
	}
}

// The interruptible PBKDF2-HMAC-SHA256 computes what crypto/pbkdf2 does.
func TestPBKDF2MatchesStandardLibrary(t *testing.T) {
	t.Parallel()
	for _, iterations := range []int{MinPBKDF2Iterations, 10_001, 4096*3 + 1, 65_536} {
		pw, salt := rand.Text(), rand.Text()[:12]
		key, err := pbkdf2.Key(sha256.New, pw, []byte(salt), iterations, pbkdf2KeyLen)
		if err != nil {
			t.Fatal(err)
		}
		s := pbkdf2Hash{iterations: iterations, salt: salt, key: key}
		if ok, err := s.matches(context.Background(), []byte(pw)); !ok || err != nil {
			t.Errorf("%d iterations: got %v %v, want a match", iterations, ok, err)
		}
		if ok, err := s.matches(context.Background(), []byte(pw+"x")); ok || err != nil {
			t.Errorf("%d iterations, another password: got %v %v, want no match", iterations, ok, err)
		}
	}
}

// A stored hash whose cost takes longer than password.verify_timeout, such
// as one imported before the cap was lowered, is stopped there: Verify
// answers ErrHashBusy (503 + Retry-After) and the slot is free again when
// it returns. The timeout here is a few milliseconds; the hashes take
// seconds.
func TestVerifyStopsAtTheTimeout(t *testing.T) {
	t.Parallel()
	slow := map[string]string{
		"bcrypt cost 17": "$2a$17$" + bcryptXCrypto[7:],
		"pbkdf2_sha256, 4,000,000 iterations": fmt.Sprintf("pbkdf2_sha256$%d$salt$%s", MaxPBKDF2Iterations,
			base64.StdEncoding.EncodeToString(make([]byte, 32))),
	}
	for name, encoded := range slow {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			pool := slots.New(1, time.Millisecond, nil)
			cfg := hcfg(cheap, nil, "", "")
			cfg.VerifyTimeout = 5 * time.Millisecond
			h, err := New(cfg, pool, nil)
			if err != nil {
				t.Fatal(err)
			}
			if ok, err := h.Verify(context.Background(), "velvet orbit coppér lantern", encoded); ok || !errors.Is(err, models.ErrHashBusy) {
				t.Fatalf("got %v %v, want ErrHashBusy", ok, err)
			}
			release, err := pool.Acquire(context.Background())
			if err != nil {
				t.Fatalf("the slot after Verify returned: %v, want it free", err)
			}
			release()
		})
	}
}

// An import refuses costs above the configured caps (by default bcrypt 14
// and 1,000,000 pbkdf2 iterations, argon2 memory the configured memory,
// here the production floor) and accepts them up to the caps; Check, which
// bounds what Verify accepts, still takes every cost bcrypt defines and
// argon2 memory up to 1 GiB.
func TestCheckImportCaps(t *testing.T) {
	t.Parallel()
	h := mustHasher(t, hcfg(cheap, nil, "", ""))
	bcryptCost := func(c string) string { return "$2b$" + c + "$" + bcryptXCrypto[7:] }
	django := func(n int) string {
		return fmt.Sprintf("pbkdf2_sha256$%d$salt$%s", n, base64.StdEncoding.EncodeToString(make([]byte, 32)))
	}
	for _, tc := range []struct {
		name, encoded string
		ok            bool
	}{
		{"bcrypt cost 14", bcryptCost("14"), true},
		{"bcrypt cost 15", bcryptCost("15"), false},
		{"bcrypt cost 31", bcryptCost("31"), false},
		{"pbkdf2 1,000,000", django(1_000_000), true},
		{"pbkdf2 1,000,001", django(1_000_001), false},
		{"pbkdf2 4,000,000", django(4_000_000), false},
		{"argon2i", argon2iVector, true},
		{"argon2id at the floor's memory", argon2Memory(config.FloorArgon2Memory), true},
		{"argon2id above it", argon2Memory(config.FloorArgon2Memory + 16), false},
		{"argon2id at 1 GiB", argon2Memory(config.MaxArgon2Memory), false},
	} {
		err := h.CheckImport(tc.encoded)
		if (err == nil) != tc.ok {
			t.Errorf("%s: CheckImport got %v, want ok %v", tc.name, err, tc.ok)
		}
		if err != nil && !strings.Contains(err.Error(), "password.max_") && !strings.Contains(err.Error(), "password.argon2_memory_kib") {
			t.Errorf("%s: %v, want the setting named", tc.name, err)
		}
		if err := Check(tc.encoded); err != nil {
			t.Errorf("%s: Check got %v, want nil", tc.name, err)
		}
	}
	cfg := hcfg(cheap, nil, "", "")
	cfg.MaxBcryptCost, cfg.MaxPBKDF2Iterations = 16, config.MaxPBKDF2Iterations
	cfg.Argon2.Memory = 256 << 10 // never hashed with here
	raised := mustHasher(t, cfg)
	for _, encoded := range []string{bcryptCost("16"), django(4_000_000), argon2Memory(256 << 10)} {
		if err := raised.CheckImport(encoded); err != nil {
			t.Errorf("raised caps: %v", err)
		}
	}
}

// argon2Memory is an argon2id PHC string of memory KiB (t=1, p=1); only
// its form and parameters count, nothing verifies it.
func argon2Memory(kib uint32) string {
	return phc{variant: FormatArgon2id, params: config.Argon2{Memory: kib, Time: 1, Threads: 1},
		salt: make([]byte, 16), key: make([]byte, 32)}.String()
}
