package hash

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"runtime/metrics"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/argon2"

	"github.com/accountpw/accountpw/models"
	"github.com/accountpw/accountpw/services/config"
	"github.com/accountpw/accountpw/services/slots"
)

// cheap are test parameters far below the floor, so tests stay fast.
var cheap = config.Argon2{Memory: 64, Time: 1, Threads: 1}

// hcfg is a password section with params and the given peppers.
func hcfg(params config.Argon2, pepper []byte, id, old string) config.Password {
	return config.Password{Argon2: params, Pepper: string(pepper), PepperID: id, OldPeppers: old}
}

func mustHasher(t testing.TB, cfg config.Password) *Hasher {
	t.Helper()
	h, err := New(cfg, slots.New(32, 10*time.Second, nil), nil)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return h
}

func mustHash(t testing.TB, h *Hasher, password string) string {
	t.Helper()
	encoded, err := h.Hash(context.Background(), password)
	if err != nil {
		t.Fatalf("Hash: %v", err)
	}
	return encoded
}

func pepper(b byte) []byte { return bytes.Repeat([]byte{b}, 32) }

// oldPepper is the OldPeppers form of pepper(b) under id.
func oldPepper(id string, b byte) string { return id + ":" + string(pepper(b)) }

// TestHasherConfig: New refuses what config.Password.Validate refuses about
// bounds and peppers (the same functions); the cost floor is Validate's only.
func TestHasherConfig(t *testing.T) {
	t.Parallel()
	prod := config.DefaultPassword().Argon2
	for _, tc := range []struct {
		name string
		cfg  config.Password
		ok   bool
	}{
		{"production params", hcfg(prod, nil, "", ""), true},
		{"cheap params (below the floor, for tests)", hcfg(cheap, nil, "", ""), true},
		{"no lanes", hcfg(config.Argon2{Memory: 64, Time: 1, Threads: 0}, nil, "", ""), false},
		{"memory under 8 KiB per lane", hcfg(config.Argon2{Memory: 31, Time: 1, Threads: 4}, nil, "", ""), false},
		{"memory above 1 GiB", hcfg(config.Argon2{Memory: 1<<20 + 1, Time: 3, Threads: 4}, nil, "", ""), false},
		{"short pepper", hcfg(prod, []byte("short"), "1", ""), false},
		{"id with a comma", hcfg(prod, pepper(1), "1,2", ""), false},
		{"old pepper reuses current id", hcfg(prod, pepper(1), "1", oldPepper("1", 2)), false},
		{"old pepper without a colon", hcfg(prod, pepper(1), "2", string(pepper(2))), false},
		{"rotated pepper", hcfg(prod, pepper(2), "2", oldPepper("1", 1)), true},
	} {
		_, err := New(tc.cfg, slots.New(1, time.Second, nil), nil)
		if got := err == nil; got != tc.ok {
			t.Errorf("%s: got ok %v (%v), want %v", tc.name, got, err, tc.ok)
		}
		// Validate refuses at least what New refuses.
		if vErr := tc.cfg.Validate(); err != nil && vErr == nil {
			t.Errorf("%s: New refused (%v) but Validate accepted", tc.name, err)
		}
	}
}

func TestHashVerifyRoundTrip(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h := mustHasher(t, hcfg(cheap, nil, "", ""))
	for _, pw := range []string{"velvet orbit copper lantern", "", "é 🌀 漢字", "abc\x00def"} {
		encoded := mustHash(t, h, pw)
		if ok, err := h.Verify(ctx, pw, encoded); !ok || err != nil {
			t.Errorf("%q: got %v %v, want true nil", pw, ok, err)
		}
		for _, wrong := range []string{pw + "x", strings.ToUpper(pw) + "!", "abc"} {
			if ok, err := h.Verify(ctx, wrong, encoded); ok || err != nil {
				t.Errorf("%q against hash of %q: got %v %v, want false nil", wrong, pw, ok, err)
			}
		}
	}
	if a, b := mustHash(t, h, "same password"), mustHash(t, h, "same password"); a == b || a[:30] == b[:30] {
		t.Errorf("two hashes of one password share a salt: %s %s", a, b)
	}
}

func TestVerifyPepperRotation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	v1 := hcfg(cheap, pepper(1), "1", "")
	encoded := mustHash(t, mustHasher(t, v1), "pw")
	if !strings.Contains(encoded, "$m=64,t=1,p=1,k=1$") {
		t.Fatalf("got %s, want k=1 in the parameters", encoded)
	}
	for _, tc := range []struct {
		name string
		cfg  config.Password
		ok   bool
		err  bool
	}{
		{"same key", v1, true, false},
		{"rotated, old key kept", hcfg(cheap, pepper(2), "2", oldPepper("1", 1)), true, false},
		{"rotated, old key dropped", hcfg(cheap, pepper(2), "2", ""), false, true},
		{"pepper removed, old key kept", hcfg(cheap, nil, "", oldPepper("1", 1)), true, false},
		{"wrong key under the same id", hcfg(cheap, pepper(3), "1", ""), false, false},
	} {
		ok, err := mustHasher(t, tc.cfg).Verify(ctx, "pw", encoded)
		if ok != tc.ok || (err != nil) != tc.err {
			t.Errorf("%s: got %v %v, want %v error %v", tc.name, ok, err, tc.ok, tc.err)
		}
	}
	plain := mustHash(t, mustHasher(t, hcfg(cheap, nil, "", "")), "pw")
	if ok, err := mustHasher(t, v1).Verify(ctx, "pw", plain); !ok || err != nil {
		t.Errorf("unpeppered hash under a pepper: got %v %v, want true nil", ok, err)
	}
}

// TestHashPepperNotReproducible: with a pepper, password, salt and parameters
// alone do not give the stored key.
func TestHashPepperNotReproducible(t *testing.T) {
	t.Parallel()
	encoded := mustHash(t, mustHasher(t, hcfg(cheap, pepper(1), "1", "")), "pw")
	s, err := parsePHC(encoded)
	if err != nil {
		t.Fatal(err)
	}
	raw := argon2.IDKey([]byte("pw"), s.salt, 1, 64, 1, 32)
	if bytes.Equal(raw, s.key) || len(s.key) != sha256.Size {
		t.Errorf("stored key %x equals the unpeppered argon2id output", s.key)
	}
	forged := strings.Replace(encoded, ",k=1", "", 1)
	forged = forged[:strings.LastIndexByte(forged, '$')+1] + base64.RawStdEncoding.EncodeToString(raw)
	if ok, _ := mustHasher(t, hcfg(cheap, nil, "", "")).Verify(context.Background(), "pw", forged); !ok {
		t.Errorf("control: the forged unpeppered hash should verify without a pepper")
	}
}

// TestHashBusy: hashing and verifying wait for a slot of the shared pool and
// give up after its wait.
func TestHashBusy(t *testing.T) {
	t.Parallel()
	pool := slots.New(1, 20*time.Millisecond, nil)
	h, err := New(hcfg(cheap, nil, "", ""), pool, nil)
	if err != nil {
		t.Fatal(err)
	}
	encoded := mustHash(t, h, "second")
	release, err := pool.Acquire(context.Background()) // someone else holds the only slot
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Hash(context.Background(), "second"); !errors.Is(err, models.ErrHashBusy) {
		t.Errorf("while the slot is held: got %v, want ErrHashBusy", err)
	}
	// Imported formats are as CPU-heavy as ours and wait for the same slots.
	for _, stored := range []string{encoded, argon2iVector, bcryptXCrypto, djangoVector} {
		if _, err := h.Verify(context.Background(), "second", stored); !errors.Is(err, models.ErrHashBusy) {
			t.Errorf("verify %s while the slot is held: got %v, want ErrHashBusy", Format(stored), err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := h.Hash(ctx, "third"); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: got %v, want context.Canceled", err)
	}
	release()
	if _, err := h.Hash(context.Background(), "fourth"); err != nil {
		t.Errorf("after release: got %v, want nil", err)
	}
}

func FuzzVerifyPHC(f *testing.F) {
	f.Add("$argon2id$v=19$m=64,t=1,p=1$MDEyMzQ1Njc4OWFiY2RlZg$" + strings.Repeat("A", 43))
	f.Add("$argon2id$v=19$m=65536,t=3,p=4,k=1$MDEyMzQ1Njc4OWFiY2RlZg$" + strings.Repeat("A", 43))
	f.Add("$argon2id$v=19$m=4194304,t=1000,p=0$$")
	f.Add("$argon2i$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5")
	h := mustHasher(f, hcfg(cheap, pepper(1), "1", ""))
	f.Fuzz(func(t *testing.T, encoded string) {
		s, err := parsePHC(encoded)
		if err != nil {
			return
		}
		if got := s.String(); got != encoded {
			t.Errorf("accepted a non-canonical form: got %q back, want %q", got, encoded)
		}
		if s.params.Memory <= 1024 && s.params.Time <= 2 {
			h.Verify(context.Background(), "pw", encoded) //nolint:errcheck // must only not panic
		}
	})
}

// FuzzParseHash: the parser of every format never panics, Check accepts
// only what Format names, and every accepted string is the canonical
// spelling of its hash (each supported format has exactly one). Accepted
// hashes cheap enough to compute are verified too, which must not fail for
// any reason but an unknown pepper.
func FuzzParseHash(f *testing.F) {
	for _, s := range []string{argon2iVector, bcryptXCrypto, bcryptPython, bcryptPHP, bcryptLong, djangoVector, djangoLigature,
		"$argon2id$v=19$m=64,t=1,p=1,k=1$MDEyMzQ1Njc4OWFiY2RlZg$" + strings.Repeat("A", 43),
		"$2a$31$" + bcryptXCrypto[7:], "$2x$04$" + bcryptXCrypto[7:], "pbkdf2_sha256$0$$", "pbkdf2_sha256$10000$s$" + strings.Repeat("A", 43) + "=",
		"pbkdf2_sha256$10000$s\n$AAAA\n", "", "$", "$2a$", "$argon2i$"} {
		f.Add(s)
	}
	h := mustHasher(f, hcfg(cheap, pepper(1), "1", ""))
	f.Fuzz(func(t *testing.T, encoded string) {
		s, err := parse(encoded)
		if cerr := Check(encoded); (cerr == nil) != (err == nil) {
			t.Fatalf("Check %v disagrees with parse %v", cerr, err)
		}
		format := Format(encoded)
		if err != nil {
			return
		}
		if format == "" {
			t.Fatalf("Check accepted %q, which Format does not name", encoded)
		}
		if got := s.String(); got != encoded {
			t.Fatalf("accepted a non-canonical form: got %q back, want %q", got, encoded)
		}
		if cheapToVerify(s) {
			if _, err := h.Verify(context.Background(), "pw", encoded); err != nil && !strings.Contains(err.Error(), "unknown pepper id") {
				t.Fatalf("Verify of an accepted %s hash: %v", format, err)
			}
		}
	})
}

// cheapToVerify reports whether one verification of s takes at most a few
// milliseconds, so a fuzzer can run it.
func cheapToVerify(s stored) bool {
	switch s := s.(type) {
	case phc:
		return s.params.Memory <= 1024 && s.params.Time <= 2
	case bcryptHash:
		return strings.HasPrefix(string(s)[3:], "$04$")
	case pbkdf2Hash:
		return s.iterations <= 20_000
	}
	return false
}

func BenchmarkHash(b *testing.B) {
	for _, bc := range []struct {
		name   string
		params config.Argon2
	}{
		{"production m=65536,t=3,p=4", config.DefaultPassword().Argon2},
		{"OWASP minimum m=19456,t=2,p=1", config.Argon2{Memory: config.FloorArgon2Memory, Time: config.FloorArgon2Time, Threads: 1}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			h := mustHasher(b, hcfg(bc.params, nil, "", ""))
			b.ReportAllocs()
			for b.Loop() {
				mustHash(b, h, "velvet orbit copper lantern")
			}
		})
	}
}

// WarmUp hashes in every slot and gives up with its context.
func TestWarmUp(t *testing.T) {
	t.Parallel()
	h := mustHasher(t, hcfg(cheap, nil, "", ""))
	if err := h.WarmUp(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := h.WarmUp(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: got %v, want context.Canceled", err)
	}
}

// After WarmUp the memory its hashes used is free for the next hash: none
// of it still waits for a collection, and a hash right after it maps no new
// heap memory. Not parallel: it reads process-wide memory statistics.
func TestWarmUpLeavesItsMemoryReusable(t *testing.T) {
	const blockMiB = 16
	h, err := New(hcfg(config.Argon2{Memory: blockMiB << 10, Time: 1, Threads: 1}, nil, "", ""),
		slots.New(2, 10*time.Second, nil), nil)
	if err != nil {
		t.Fatal(err)
	}
	read := func() (objects, mapped uint64) {
		s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"},
			{Name: "/memory/classes/total:bytes"}, {Name: "/memory/classes/heap/released:bytes"}}
		metrics.Read(s)
		return s[0].Value.Uint64(), s[1].Value.Uint64() - s[2].Value.Uint64()
	}
	if err := h.WarmUp(context.Background()); err != nil {
		t.Fatal(err)
	}
	objects, before := read()
	if objects >= blockMiB<<20 {
		t.Errorf("after WarmUp %d MiB of heap objects, want less than one %d MiB block", objects>>20, blockMiB)
	}
	mustHash(t, h, "velvet orbit copper lantern")
	if _, after := read(); after > before && after-before >= blockMiB<<20 {
		t.Errorf("a hash after WarmUp mapped %d MiB more, want its block from WarmUp's memory", (after-before)>>20)
	}
}
