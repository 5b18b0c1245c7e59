package hash

import (
	"context"
	"strings"
	"testing"
)

// Django pbkdf2_sha256 vectors, computed with Python 3's hashlib exactly as
// Django's PBKDF2PasswordHasher.encode does (the password and salt as UTF-8,
// the default 32-byte key, standard base64):
//
//	python3 -c 'import base64, hashlib, sys
//	pw, salt, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
//	key = hashlib.pbkdf2_hmac("sha256", pw.encode(), salt.encode(), n)
//	print("pbkdf2_sha256$%d$%s$%s" % (n, salt, base64.b64encode(key).decode("ascii").strip()))' \
//	  'correct horse battery staple' YCd0nqFRn5Y4Zvs1xzZHNV 260000
//
// and again with 'ﬁnal ①' k2UeKyWv3rWb 10000. Both strings are also what
// Django 3.2.25 itself (Debian python3-django) returns for
// PBKDF2PasswordHasher().encode(password, salt, iterations): 260,000 is that
// version's default, 10,000 the default of Django 1.4, the first with PBKDF2.
const (
	djangoVector   = "pbkdf2_sha256$260000$YCd0nqFRn5Y4Zvs1xzZHNV$E4A4civFOFO5CLf0X+nQ0zeV8aI1kd2rDt2sF937igA="
	djangoLigature = "pbkdf2_sha256$10000$k2UeKyWv3rWb$rJfi9xihWkscAhmhKT8LC4mtCXrd5QsfHr0CB9dBBlE="
)

func TestVerifyPBKDF2(t *testing.T) {
	t.Parallel()
	h := mustHasher(t, hcfg(cheap, nil, "", ""))
	for _, tc := range []struct {
		name, password, encoded string
		want                    bool
	}{
		{"Django 3.2 default iterations", "correct horse battery staple", djangoVector, true},
		{"wrong password", "Correct horse battery staple", djangoVector, false},
		{"empty password", "", djangoVector, false},
		{"non-ASCII password as typed", "ﬁnal ①", djangoLigature, true},
		{"its NFKC form, which Django never hashed", "final 1", djangoLigature, false},
		{"other iterations than the hash was made with", "correct horse battery staple",
			strings.Replace(djangoVector, "$260000$", "$260001$", 1), false},
	} {
		ok, err := h.Verify(context.Background(), tc.password, tc.encoded)
		if ok != tc.want || err != nil {
			t.Errorf("%s: got %v %v, want %v nil", tc.name, ok, err, tc.want)
		}
	}
}

func TestVerifyMalformedPBKDF2(t *testing.T) {
	t.Parallel()
	h := mustHasher(t, hcfg(cheap, nil, "", ""))
	const salt, key = "YCd0nqFRn5Y4Zvs1xzZHNV", "E4A4civFOFO5CLf0X+nQ0zeV8aI1kd2rDt2sF937igA="
	with := func(iterations, salt, key string) string {
		return "pbkdf2_sha256$" + iterations + "$" + salt + "$" + key
	}
	for _, tc := range []struct{ name, encoded string }{
		{"pbkdf2_sha1 (not supported)", strings.Replace(djangoVector, "pbkdf2_sha256", "pbkdf2_sha1", 1)},
		{"upper-case algorithm", strings.Replace(djangoVector, "pbkdf2_sha256", "PBKDF2_SHA256", 1)},
		{"leading dollar", "$" + djangoVector},
		{"three fields", "pbkdf2_sha256$260000$" + key},
		{"five fields", djangoVector + "$"},
		{"iterations 9,999, below the bound", with("9999", salt, key)},
		{"iterations above the bound", with("4000001", salt, key)},
		{"a billion iterations", with("1000000000", salt, key)},
		{"zero iterations", with("0", salt, key)},
		{"negative iterations", with("-260000", salt, key)},
		{"signed iterations", with("+260000", salt, key)},
		{"leading zero", with("0260000", salt, key)},
		{"iterations with a separator", with("260_000", salt, key)},
		{"iterations in exponent form", with("26e4", salt, key)},
		{"iterations with a space", with(" 260000", salt, key)},
		{"overflowing iterations", with("99999999999999999999999", salt, key)},
		{"no iterations", with("", salt, key)},
		{"empty salt", with("260000", "", key)},
		{"salt with a line break", with("260000", "YCd0nq\nFRn5Y4", key)},
		{"salt of 129 bytes", with("260000", strings.Repeat("s", 129), key)},
		{"salt not UTF-8", with("260000", "YCd0\xffnqFR", key)},
		{"empty hash", with("260000", salt, "")},
		{"unpadded hash", with("260000", salt, strings.TrimSuffix(key, "="))},
		{"url-safe base64 hash", with("260000", salt, strings.NewReplacer("+", "-", "/", "_").Replace(key))},
		{"hash with a line break", with("260000", salt, key[:20]+"\n"+key[20:])},
		{"unused hash bits set", with("260000", salt, strings.Replace(key, "igA=", "igB=", 1))},
		{"31-byte hash", with("260000", salt, "E4A4civFOFO5CLf0X+nQ0zeV8aI1kd2rDt2sF937ig==")},
		{"48-byte hash (sha384's size)", with("260000", salt, key[:43]+strings.Repeat("A", 21))},
	} {
		mustRefuse(t, h, tc.name, tc.encoded)
	}
	for _, n := range []string{"10000", "4000000"} {
		if err := Check(with(n, salt, key)); err != nil {
			t.Errorf("%s iterations: Check got %v, want nil", n, err)
		}
	}
}
