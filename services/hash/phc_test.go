package hash

import (
	"context"
	"encoding/base64"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/crypto/argon2"

	"github.com/accountpw/accountpw/services/config"
)

// argon2i vectors made by the reference implementation's command-line tool
// (Debian package argon2, version 0~20171227), independent of x/crypto:
//
//	printf %s 'correct horse battery staple' | argon2 somesaltsomesalt -i -t 2 -m 10 -p 2 -l 32 -e
//	printf %s 'ﬁnal ①' | argon2 somesaltsomesalt -i -t 2 -m 10 -p 2 -l 32 -e
//
// m=1024, t=2, p=2 are PHP 7.2's PASSWORD_ARGON2I defaults; -m is log2 KiB.
const (
	argon2iVector      = "$argon2i$v=19$m=1024,t=2,p=2$c29tZXNhbHRzb21lc2FsdA$DuB8wY9Ia/ds4JJy+2yQafR5TpYfqVJJmUZr7Jbc4Ro"
	argon2iRawLigature = "$argon2i$v=19$m=1024,t=2,p=2$c29tZXNhbHRzb21lc2FsdA$5KK/KRR6bXfmiSiSp64WjcdESKdRV7nTePdNpX3i+1c"
)

func TestVerifyArgon2i(t *testing.T) {
	t.Parallel()
	h := mustHasher(t, config.DefaultPassword())
	for _, tc := range []struct {
		name, password, encoded string
		want                    bool
	}{
		{"reference tool vector", "correct horse battery staple", argon2iVector, true},
		{"wrong password", "correct horse battery stapler", argon2iVector, false},
		{"empty password", "", argon2iVector, false},
		{"the same key read as argon2id", "correct horse battery staple", strings.Replace(argon2iVector, "$argon2i$", "$argon2id$", 1), false},
		{"non-ASCII password as typed", "ﬁnal ①", argon2iRawLigature, true},
	} {
		ok, err := h.Verify(context.Background(), tc.password, tc.encoded)
		if ok != tc.want || err != nil {
			t.Errorf("%s: got %v %v, want %v nil", tc.name, ok, err, tc.want)
		}
	}
}

// TestHashProductionFormat checks the stored format at the production cost:
// argon2id v19, m=65536, t=3, p=4, a 16-byte salt and a 32-byte key.
func TestHashProductionFormat(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("64 MiB hash")
	}
	encoded := mustHash(t, mustHasher(t, config.DefaultPassword()), "velvet orbit copper lantern")
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

// TestVerifyInterop verifies a hash made by argon2.IDKey directly, as another
// library (alexedwards/argon2id's defaults) would have stored it.
func TestVerifyInterop(t *testing.T) {
	t.Parallel()
	salt := []byte("0123456789abcdef")
	key := argon2.IDKey([]byte("correct horse battery staple"), salt, 1, 65536, 2, 32)
	encoded := "$argon2id$v=19$m=65536,t=1,p=2$" + base64.RawStdEncoding.EncodeToString(salt) + "$" + base64.RawStdEncoding.EncodeToString(key)
	h := mustHasher(t, config.DefaultPassword())
	ok, err := h.Verify(context.Background(), "correct horse battery staple", encoded)
	if !ok || err != nil {
		t.Errorf("got %v %v, want true nil", ok, err)
	}
}

func TestVerifyMalformedPHC(t *testing.T) {
	t.Parallel()
	h := mustHasher(t, hcfg(cheap, nil, "", ""))
	good := mustHash(t, h, "pw") // $argon2id$v=19$m=64,t=1,p=1$salt$key
	parts := strings.Split(good, "$")
	salt, key := parts[4], parts[5]
	with := func(params string) string { return "$argon2id$v=19$" + params + "$" + salt + "$" + key }
	for _, tc := range []struct{ name, encoded string }{
		{"empty", ""},
		{"argon2d", strings.Replace(good, "$argon2id$", "$argon2d$", 1)},
		{"upper-case variant", strings.Replace(good, "$argon2id$", "$ARGON2ID$", 1)},
		{"version 16", strings.Replace(good, "v=19", "v=16", 1)},
		{"no version", strings.Replace(good, "$v=19", "", 1)},
		{"argon2i without version (1.0)", strings.Replace(strings.Replace(good, "$v=19", "", 1), "argon2id", "argon2i", 1)},
		{"4 GiB memory", with("m=4194304,t=1,p=1")},
		{"1000 passes", with("m=64,t=1000,p=1")},
		{"no lanes", with("m=64,t=1,p=0")},
		{"300 lanes", with("m=65536,t=1,p=300")},
		{"memory under 8 KiB per lane", with("m=16,t=1,p=4")},
		{"overflowing memory", with("m=99999999999,t=1,p=1")},
		{"negative passes", with("m=64,t=-1,p=1")},
		{"leading zero", with("m=064,t=1,p=1")},
		{"a parameter twice", with("m=64,t=1,m=64")},
		{"a parameter missing", with("m=64,t=1,x=1")},
		{"pepper id before the parameters", with("k=1,m=64,t=1,p=1")},
		{"no value", with("m=,t=1,p=1")},
		{"upper-case name", with("M=64,t=1,p=1")},
		{"unknown parameter", with("m=64,t=1,p=1,x=2")},
		{"empty pepper id", with("m=64,t=1,p=1,k=")},
		{"argon2i with a pepper id", strings.Replace(with("m=64,t=1,p=1,k=1"), "$argon2id$", "$argon2i$", 1)},
		{"argon2i out of bounds", strings.Replace(argon2iVector, "m=1024,t=2,p=2", "m=1024,t=17,p=2", 1)},
		{"bad base64 salt", strings.Replace(good, salt, "!!!!"+salt[4:], 1)},
		{"line break in the salt", strings.Replace(good, salt, salt[:4]+"\n"+salt[4:], 1)},
		{"padded key", good + "="},
		{"url-safe base64", strings.NewReplacer("+", "-", "/", "_").Replace(argon2iVector)},
		{"short salt", "$argon2id$v=19$m=64,t=1,p=1$AAAA$" + key},
		{"short key", strings.TrimSuffix(good, key) + "AAAA"},
		{"trailing field", good + "$"},
	} {
		mustRefuse(t, h, tc.name, tc.encoded)
	}
	// Check knows no peppers: an unknown id is well formed there, and only
	// Verify, which knows the configured peppers, refuses it.
	unknownID := with("m=64,t=1,p=1,k=9")
	if ok, err := h.Verify(context.Background(), "pw", unknownID); ok || err == nil || !strings.Contains(err.Error(), "unknown pepper id") {
		t.Errorf("unknown pepper id: got %v %v, want false and an unknown-pepper error", ok, err)
	}
	if err := Check(unknownID); err != nil {
		t.Errorf("unknown pepper id: Check got %v, want nil", err)
	}
}
