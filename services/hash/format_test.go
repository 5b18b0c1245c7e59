package hash

import (
	"context"
	"strings"
	"testing"

	"golang.org/x/crypto/argon2"

	"github.com/accountpw/accountpw/models"
)

// mustRefuse asserts that Verify answers false with a stored-hash error,
// that Check refuses encoded too, and that neither error quotes the hash.
func mustRefuse(t *testing.T, h *Hasher, name, encoded string) {
	t.Helper()
	ok, err := h.Verify(context.Background(), "pw", encoded)
	if ok || err == nil || !strings.HasPrefix(err.Error(), "verify password: stored hash: ") {
		t.Errorf("%s: Verify got %v %v, want false and a stored-hash error", name, ok, err)
	}
	cerr := Check(encoded)
	if cerr == nil {
		t.Errorf("%s: Check got nil, want an error", name)
	}
	last := encoded[strings.LastIndexByte(encoded, '$')+1:]
	for _, e := range []error{err, cerr} {
		if e != nil && len(last) >= 8 && strings.Contains(e.Error(), last) {
			t.Errorf("%s: the error quotes the stored hash: %v", name, e)
		}
	}
}

func TestFormatAndCheck(t *testing.T) {
	t.Parallel()
	ours := mustHash(t, mustHasher(t, hcfg(cheap, pepper(1), "1", "")), "pw")
	for _, tc := range []struct {
		name, encoded, format string
		ok                    bool
	}{
		{"our argon2id, peppered", ours, FormatArgon2id, true},
		{"argon2i from the reference tool", argon2iVector, FormatArgon2i, true},
		{"bcrypt $2a$", bcryptXCrypto, FormatBcrypt, true},
		{"bcrypt $2b$", bcryptPython, FormatBcrypt, true},
		{"bcrypt $2y$", bcryptPHP, FormatBcrypt, true},
		{"Django pbkdf2_sha256", djangoVector, FormatPBKDF2SHA256, true},
		{"bcrypt at its highest cost", strings.Replace(bcryptXCrypto, "$04$", "$31$", 1), FormatBcrypt, true},
		{"bcrypt over bcrypt's highest cost", strings.Replace(bcryptXCrypto, "$04$", "$32$", 1), FormatBcrypt, false},
		{"Django over its iteration bound", strings.Replace(djangoVector, "$260000$", "$5000000$", 1), FormatPBKDF2SHA256, false},
		{"argon2i truncated", argon2iVector[:40], FormatArgon2i, false},
		{"argon2id truncated", ours[:20], FormatArgon2id, false},
		{"empty", "", "", false},
		{"plain text", "correct horse battery staple", "", false},
		{"argon2d", strings.Replace(argon2iVector, "$argon2i$", "$argon2d$", 1), "", false},
		{"bcrypt $2x$", strings.Replace(bcryptXCrypto, "$2a$", "$2x$", 1), "", false},
		{"Django pbkdf2_sha1", "pbkdf2_sha1$260000$salt$aGFzaA==", "", false},
		{"Django bcrypt_sha256", "bcrypt_sha256$" + bcryptPython, "", false},
		{"Django argon2", "argon2" + argon2iVector, "", false},
		{"unsalted MD5", "5f4dcc3b5aa765d61d8327deb882cf99", "", false},
		{"sha512-crypt", "$6$rounds=5000$salt$hash", "", false},
	} {
		if got := Format(tc.encoded); got != tc.format {
			t.Errorf("%s: Format got %q, want %q", tc.name, got, tc.format)
		}
		if err := Check(tc.encoded); (err == nil) != tc.ok {
			t.Errorf("%s: Check got %v, want ok %v", tc.name, err, tc.ok)
		}
	}
}

// TestVerifyNormalisation pins which forms of a password Verify tries:
// for imported formats the password as typed, then its NFKC form; for an
// unpeppered argon2id the NFKC form (ours), then the password as typed
// (another library's).
func TestVerifyNormalisation(t *testing.T) {
	t.Parallel()
	const typed, nfkc = "ﬁnal ①", "final 1" // the ligature ﬁ and the circled ① fold under NFKC
	if models.NormalizePassword(typed) != nfkc {
		t.Fatalf("the test needs NFKC(%q) = %q", typed, nfkc)
	}
	h := mustHasher(t, hcfg(cheap, nil, "", ""))
	ours := mustHash(t, h, models.NormalizePassword(typed))
	salt := []byte("0123456789abcdef")
	rawArgon2id := "$argon2id$v=19$m=64,t=1,p=1$" + b64.EncodeToString(salt) + "$" +
		b64.EncodeToString(argon2.IDKey([]byte(typed), salt, 1, 64, 1, 32))
	for _, tc := range []struct {
		name, password, encoded string
		want                    bool
	}{
		{"bcrypt of the typed form, typed again", typed, bcryptRawLigature, true},
		{"bcrypt of the NFKC form, typed with ligatures", typed, bcryptNFKCLigature, true},
		{"bcrypt of the NFKC form, typed plainly", nfkc, bcryptNFKCLigature, true},
		{"bcrypt of the typed form, typed plainly (cannot be undone)", nfkc, bcryptRawLigature, false},
		{"Django of the typed form, typed again", typed, djangoLigature, true},
		{"argon2i of the typed form, typed again", typed, argon2iRawLigature, true},
		{"our argon2id, typed with ligatures", typed, ours, true},
		{"our argon2id, typed plainly", nfkc, ours, true},
		{"argon2id of the typed form, typed again", typed, rawArgon2id, true},
		{"argon2id of the typed form, typed plainly (cannot be undone)", nfkc, rawArgon2id, false},
	} {
		ok, err := h.Verify(context.Background(), tc.password, tc.encoded)
		if ok != tc.want || err != nil {
			t.Errorf("%s: got %v %v, want %v nil", tc.name, ok, err, tc.want)
		}
	}
}
