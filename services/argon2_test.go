package services

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/argon2"

	"github.com/accountpw/accountpw/models"
)

// cheap are test parameters far below the floor, so tests stay fast.
var cheap = HashParams{Memory: 64, Time: 1, Threads: 1}

func mustHasher(t testing.TB, cfg HasherConfig) *Hasher {
	t.Helper()
	h, err := NewHasher(cfg)
	if err != nil {
		t.Fatalf("NewHasher: %v", err)
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

func TestHasherConfig(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		cfg  HasherConfig
		ok   bool
	}{
		{"zero means production params", HasherConfig{}, true},
		{"OWASP floor", HasherConfig{Params: floorParams}, true},
		{"memory below floor", HasherConfig{Params: HashParams{19455, 2, 1}}, false},
		{"one pass", HasherConfig{Params: HashParams{65536, 1, 4}}, false},
		{"cheap with AllowWeak", HasherConfig{Params: cheap, AllowWeak: true}, true},
		{"no lanes even with AllowWeak", HasherConfig{Params: HashParams{64, 1, 0}, AllowWeak: true}, false},
		{"memory under 8 KiB per lane", HasherConfig{Params: HashParams{31, 1, 4}, AllowWeak: true}, false},
		{"memory above 1 GiB", HasherConfig{Params: HashParams{1<<20 + 1, 3, 4}}, false},
		{"pepper without id", HasherConfig{Pepper: pepper(1)}, false},
		{"id without pepper", HasherConfig{PepperID: "1"}, false},
		{"short pepper", HasherConfig{Pepper: []byte("short"), PepperID: "1"}, false},
		{"id with a comma", HasherConfig{Pepper: pepper(1), PepperID: "1,2"}, false},
		{"old pepper reuses current id", HasherConfig{Pepper: pepper(1), PepperID: "1", OldPeppers: map[string][]byte{"1": pepper(2)}}, false},
		{"rotated pepper", HasherConfig{Pepper: pepper(2), PepperID: "2", OldPeppers: map[string][]byte{"1": pepper(1)}}, true},
	} {
		_, err := NewHasher(tc.cfg)
		if got := err == nil; got != tc.ok {
			t.Errorf("%s: got ok %v (%v), want %v", tc.name, got, err, tc.ok)
		}
	}
	h := mustHasher(t, HasherConfig{})
	if got, want := h.cfg.Params, productionParams; got != want {
		t.Errorf("default params: got %+v, want %+v", got, want)
	}
	if h.cfg.Slots < 1 || h.cfg.Wait != 100*time.Millisecond {
		t.Errorf("defaults: got slots %d wait %v, want ≥1 and 100ms", h.cfg.Slots, h.cfg.Wait)
	}
}

func TestHashVerifyRoundTrip(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h := mustHasher(t, HasherConfig{Params: cheap, AllowWeak: true})
	for _, pw := range []string{"velvet orbit copper lantern", "", "é 🌀 漢字", "abc\x00def"} {
		encoded := mustHash(t, h, pw)
		if ok, rehash, err := h.Verify(ctx, pw, encoded); !ok || rehash || err != nil {
			t.Errorf("%q: got %v %v %v, want true false nil", pw, ok, rehash, err)
		}
		for _, wrong := range []string{pw + "x", strings.ToUpper(pw) + "!", "abc"} {
			if ok, _, err := h.Verify(ctx, wrong, encoded); ok || err != nil {
				t.Errorf("%q against hash of %q: got %v %v, want false nil", wrong, pw, ok, err)
			}
		}
	}
	if a, b := mustHash(t, h, "same password"), mustHash(t, h, "same password"); a == b || a[:30] == b[:30] {
		t.Errorf("two hashes of one password share a salt: %s %s", a, b)
	}
}

// TestHashProductionFormat checks R-HASH-1 and R-HASH-2 at the real cost.
func TestHashProductionFormat(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("64 MiB hash")
	}
	encoded := mustHash(t, mustHasher(t, HasherConfig{}), "velvet orbit copper lantern")
	re := regexp.MustCompile(`^\$argon2id\$v=19\$m=65536,t=3,p=4\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$`)
	m := re.FindStringSubmatch(encoded)
	if m == nil {
		t.Fatalf("got %s, want a PHC string matching %s", encoded, re)
	}
	salt, _ := base64.RawStdEncoding.DecodeString(m[1])
	key, _ := base64.RawStdEncoding.DecodeString(m[2])
	if len(salt) != 16 || len(key) != 32 {
		t.Errorf("got salt %d key %d bytes, want 16 and 32", len(salt), len(key))
	}
}

func TestVerifyRehash(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	old := mustHash(t, mustHasher(t, HasherConfig{Params: cheap, AllowWeak: true}), "pw")
	for _, tc := range []struct {
		name   string
		params HashParams
	}{
		{"more memory", HashParams{128, 1, 1}},
		{"more passes", HashParams{64, 2, 1}},
		{"more lanes", HashParams{64, 1, 2}},
	} {
		h := mustHasher(t, HasherConfig{Params: tc.params, AllowWeak: true})
		if ok, rehash, err := h.Verify(ctx, "pw", old); !ok || !rehash || err != nil {
			t.Errorf("%s: got %v %v %v, want true true nil", tc.name, ok, rehash, err)
		}
	}
}

// TestVerifyInterop verifies a hash made by argon2.IDKey directly, as another
// library (alexedwards/argon2id's defaults) would have stored it.
func TestVerifyInterop(t *testing.T) {
	t.Parallel()
	salt := []byte("0123456789abcdef")
	key := argon2.IDKey([]byte("correct horse battery staple"), salt, 1, 65536, 2, 32)
	encoded := "$argon2id$v=19$m=65536,t=1,p=2$" + base64.RawStdEncoding.EncodeToString(salt) + "$" + base64.RawStdEncoding.EncodeToString(key)
	h := mustHasher(t, HasherConfig{})
	ok, rehash, err := h.Verify(context.Background(), "correct horse battery staple", encoded)
	if !ok || !rehash || err != nil {
		t.Errorf("got %v %v %v, want true true nil", ok, rehash, err)
	}
}

func TestVerifyMalformed(t *testing.T) {
	t.Parallel()
	h := mustHasher(t, HasherConfig{Params: cheap, AllowWeak: true})
	good := mustHash(t, h, "pw") // $argon2id$v=19$m=64,t=1,p=1$salt$key
	parts := strings.Split(good, "$")
	salt, key := parts[4], parts[5]
	with := func(params string) string { return "$argon2id$v=19$" + params + "$" + salt + "$" + key }
	for _, tc := range []struct{ name, encoded string }{
		{"empty", ""},
		{"argon2i", strings.Replace(good, "$argon2id$", "$argon2i$", 1)},
		{"argon2d", strings.Replace(good, "$argon2id$", "$argon2d$", 1)},
		{"version 16", strings.Replace(good, "v=19", "v=16", 1)},
		{"no version", strings.Replace(good, "$v=19", "", 1)},
		{"4 GiB memory", with("m=4194304,t=1,p=1")},
		{"1000 passes", with("m=64,t=1000,p=1")},
		{"no lanes", with("m=64,t=1,p=0")},
		{"300 lanes", with("m=65536,t=1,p=300")},
		{"memory under 8 KiB per lane", with("m=16,t=1,p=4")},
		{"overflowing memory", with("m=99999999999,t=1,p=1")},
		{"negative passes", with("m=64,t=-1,p=1")},
		{"leading zero", with("m=064,t=1,p=1")},
		{"reordered", with("t=1,m=64,p=1")},
		{"unknown parameter", with("m=64,t=1,p=1,x=2")},
		{"empty pepper id", with("m=64,t=1,p=1,k=")},
		{"bad base64 salt", strings.Replace(good, salt, "!!!!"+salt[4:], 1)},
		{"padded key", good + "="},
		{"short salt", "$argon2id$v=19$m=64,t=1,p=1$AAAA$" + key},
		{"short key", strings.TrimSuffix(good, key) + "AAAA"},
		{"trailing field", good + "$"},
		{"unknown pepper id", with("m=64,t=1,p=1,k=9")},
	} {
		ok, rehash, err := h.Verify(context.Background(), "pw", tc.encoded)
		if err == nil || ok || rehash || !strings.HasPrefix(err.Error(), "verify password: stored hash: ") {
			t.Errorf("%s: got %v %v %v, want false false and a stored-hash error", tc.name, ok, rehash, err)
		}
	}
}

func TestVerifyPepperRotation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	v1 := HasherConfig{Params: cheap, AllowWeak: true, Pepper: pepper(1), PepperID: "1"}
	encoded := mustHash(t, mustHasher(t, v1), "pw")
	if !strings.Contains(encoded, "$m=64,t=1,p=1,k=1$") {
		t.Fatalf("got %s, want k=1 in the parameters", encoded)
	}
	for _, tc := range []struct {
		name       string
		cfg        HasherConfig
		ok, rehash bool
		err        bool
	}{
		{"same key", v1, true, false, false},
		{"rotated, old key kept", HasherConfig{Params: cheap, AllowWeak: true, Pepper: pepper(2), PepperID: "2", OldPeppers: map[string][]byte{"1": pepper(1)}}, true, true, false},
		{"rotated, old key dropped", HasherConfig{Params: cheap, AllowWeak: true, Pepper: pepper(2), PepperID: "2"}, false, false, true},
		{"pepper removed, old key kept", HasherConfig{Params: cheap, AllowWeak: true, OldPeppers: map[string][]byte{"1": pepper(1)}}, true, true, false},
		{"wrong key under the same id", HasherConfig{Params: cheap, AllowWeak: true, Pepper: pepper(3), PepperID: "1"}, false, false, false},
	} {
		ok, rehash, err := mustHasher(t, tc.cfg).Verify(ctx, "pw", encoded)
		if ok != tc.ok || rehash != tc.rehash || (err != nil) != tc.err {
			t.Errorf("%s: got %v %v %v, want %v %v error %v", tc.name, ok, rehash, err, tc.ok, tc.rehash, tc.err)
		}
	}
	plain := mustHash(t, mustHasher(t, HasherConfig{Params: cheap, AllowWeak: true}), "pw")
	if ok, rehash, err := mustHasher(t, v1).Verify(ctx, "pw", plain); !ok || !rehash || err != nil {
		t.Errorf("unpeppered hash under a pepper: got %v %v %v, want true true nil", ok, rehash, err)
	}
}

// TestHashPepperNotReproducible checks R-HASH-4: password, salt and parameters
// alone do not give the stored key.
func TestHashPepperNotReproducible(t *testing.T) {
	t.Parallel()
	encoded := mustHash(t, mustHasher(t, HasherConfig{Params: cheap, AllowWeak: true, Pepper: pepper(1), PepperID: "1"}), "pw")
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
	if ok, _, _ := mustHasher(t, HasherConfig{Params: cheap, AllowWeak: true}).Verify(context.Background(), "pw", forged); !ok {
		t.Errorf("control: the forged unpeppered hash should verify without a pepper")
	}
}

func TestHashBusy(t *testing.T) {
	t.Parallel()
	h := mustHasher(t, HasherConfig{Params: cheap, AllowWeak: true, Slots: 1, Wait: 20 * time.Millisecond})
	entered, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	h.held = func() {
		once.Do(func() { close(entered); <-release })
	}
	done := make(chan error)
	go func() {
		_, err := h.Hash(context.Background(), "first")
		done <- err
	}()
	<-entered
	if _, err := h.Hash(context.Background(), "second"); !errors.Is(err, models.ErrHashBusy) {
		t.Errorf("while the slot is held: got %v, want ErrHashBusy", err)
	}
	if _, _, err := h.Verify(context.Background(), "second", mustHashOf(t, "second")); !errors.Is(err, models.ErrHashBusy) {
		t.Errorf("verify while the slot is held: got %v, want ErrHashBusy", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := h.Hash(ctx, "third"); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: got %v, want context.Canceled", err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Errorf("slot holder: got %v, want nil", err)
	}
	if _, err := h.Hash(context.Background(), "fourth"); err != nil {
		t.Errorf("after release: got %v, want nil", err)
	}
}

func mustHashOf(t *testing.T, password string) string {
	t.Helper()
	return mustHash(t, mustHasher(t, HasherConfig{Params: cheap, AllowWeak: true}), password)
}

func FuzzVerifyPHC(f *testing.F) {
	f.Add("$argon2id$v=19$m=64,t=1,p=1$MDEyMzQ1Njc4OWFiY2RlZg$" + strings.Repeat("A", 43))
	f.Add("$argon2id$v=19$m=65536,t=3,p=4,k=1$MDEyMzQ1Njc4OWFiY2RlZg$" + strings.Repeat("A", 43))
	f.Add("$argon2id$v=19$m=4194304,t=1000,p=0$$")
	f.Add("$argon2i$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5")
	h := mustHasher(f, HasherConfig{Params: cheap, AllowWeak: true, Pepper: pepper(1), PepperID: "1"})
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

func BenchmarkHash(b *testing.B) {
	for _, bc := range []struct {
		name   string
		params HashParams
	}{
		{"production m=65536,t=3,p=4", productionParams},
		{"OWASP minimum m=19456,t=2,p=1", floorParams},
	} {
		b.Run(bc.name, func(b *testing.B) {
			h := mustHasher(b, HasherConfig{Params: bc.params})
			b.ReportAllocs()
			for b.Loop() {
				mustHash(b, h, "velvet orbit copper lantern")
			}
		})
	}
}
