package hash

import (
	"context"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

// bcrypt vectors, fixed so that the tests check this package against what
// the real tools wrote, not against itself:
//
//   - bcryptXCrypto and bcryptLong: golang.org/x/crypto/bcrypt v0.58.0,
//     GenerateFromPassword(password, 4) (cost 4 keeps the tests fast); it
//     writes $2a$. bcryptLong is the hash of the first 72 bytes of long.
//   - bcryptPython: pyca/bcrypt 3.2.2 (Debian python3-bcrypt),
//     bcrypt.hashpw(b"correct horse battery staple", bcrypt.gensalt(rounds=4));
//     it writes $2b$.
//   - bcryptPHP: PHP's manual, the example of password_verify, whose
//     password is "rasmuslerdorf"; PHP writes $2y$.
//   - bcryptRawLigature and bcryptNFKCLigature: x/crypto as above, of
//     "ﬁnal ①" as typed and of its NFKC form "final 1".
const (
	bcryptXCrypto      = "$2a$04$F/7tYD.C..5USMpXvOIftuyNryzZ8JoFsbRiNHd70.492qy2DaeE2"
	bcryptPython       = "$2b$04$q5XBlp3TtnJPCFIk088AkO2BqUxZarUjFm0DoEAYvgIFoD4C8v782"
	bcryptPHP          = "$2y$07$BCryptRequires22Chrcte/VlQH0piJtjXl.0t1XkA8pw9dMXTpOq"
	bcryptLong         = "$2a$04$02Klo.TmZXAI5Lk0R8JtlOw9GYrwa7kItY/uMDJ8xJX0Zbw3B55jm"
	bcryptRawLigature  = "$2a$04$nWR7en4AIMem0xZyLFbsRekZjNwFyAgVYpkfNyNIm2hkVBqkW9JO."
	bcryptNFKCLigature = "$2a$04$e3SHCZX3tKZdrNSqLl9vo.ftIru8eicwmaTBX51xScgbxutOWuCOi"
)

// long is 80 bytes; bcryptLong is the hash of its first 72.
var long = strings.Repeat("0123456789", 8)

func TestVerifyBcrypt(t *testing.T) {
	t.Parallel()
	h := mustHasher(t, hcfg(cheap, nil, "", ""))
	for _, tc := range []struct {
		name, password, encoded string
		want                    bool
	}{
		{"x/crypto $2a$", "correct horse battery staple", bcryptXCrypto, true},
		{"pyca/bcrypt $2b$", "correct horse battery staple", bcryptPython, true},
		{"PHP $2y$", "rasmuslerdorf", bcryptPHP, true},
		{"wrong password", "correct horse battery stapler", bcryptXCrypto, false},
		{"wrong password against PHP", "rasmuslerdorF", bcryptPHP, false},
		{"empty password", "", bcryptPython, false},
		{"$2b$ read as $2y$", "correct horse battery staple", strings.Replace(bcryptPython, "$2b$", "$2y$", 1), true},
		{"80-byte password, hashed as its first 72", long, bcryptLong, true},
		{"exactly the 72 bytes bcrypt read", long[:72], bcryptLong, true},
		{"a different 73rd byte still verifies (bcrypt reads 72)", long[:72] + "x", bcryptLong, true},
		{"71 bytes", long[:71], bcryptLong, false},
	} {
		ok, err := h.Verify(context.Background(), tc.password, tc.encoded)
		if ok != tc.want || err != nil {
			t.Errorf("%s: got %v %v, want %v nil", tc.name, ok, err, tc.want)
		}
	}
}

// TestBcryptLibraryTruncates pins what the comment on bcryptHash.matches
// says of this x/crypto version: CompareHashAndPassword reads 72 bytes of a
// longer password instead of refusing it, and only GenerateFromPassword
// refuses. If an upgrade changes that, matches still cuts at 72 bytes.
func TestBcryptLibraryTruncates(t *testing.T) {
	t.Parallel()
	if err := bcrypt.CompareHashAndPassword([]byte(bcryptLong), []byte(long)); err != nil {
		t.Errorf("CompareHashAndPassword of 80 bytes: got %v, want nil (silent truncation)", err)
	}
	if _, err := bcrypt.GenerateFromPassword([]byte(long), 4); err == nil {
		t.Error("GenerateFromPassword of 80 bytes: got nil, want ErrPasswordTooLong")
	}
}

func TestVerifyMalformedBcrypt(t *testing.T) {
	t.Parallel()
	h := mustHasher(t, hcfg(cheap, nil, "", ""))
	good := bcryptXCrypto
	salt, sum := good[7:29], good[29:]
	withCost := func(c string) string { return "$2a$" + c + "$" + salt + sum }
	for _, tc := range []struct{ name, encoded string }{
		{"$2x$ (crypt_blowfish's bug-compatible mode)", strings.Replace(good, "$2a$", "$2x$", 1)},
		{"$2$ without a minor version", "$2$04$" + salt + sum},
		{"$2c$", strings.Replace(good, "$2a$", "$2c$", 1)},
		{"upper-case $2A$", strings.Replace(good, "$2a$", "$2A$", 1)},
		{"$3a$", strings.Replace(good, "$2a$", "$3a$", 1)},
		{"cost 03, below bcrypt's minimum", withCost("03")},
		{"cost 00", withCost("00")},
		{"cost 32", withCost("32")},
		{"cost 99", withCost("99")},
		{"one-digit cost", "$2a$4$" + salt + sum + "."},
		{"signed cost (strconv.Atoi would read +4)", withCost("+4")},
		{"cost with a space", withCost(" 4")},
		{"no separator after the cost", "$2a$04x" + salt + sum},
		{"one character short", good[:59]},
		{"one character long", good + "."},
		{"trailing line break", good + "\n"},
		{"character outside bcrypt's alphabet in the salt", "$2a$04$" + "!" + salt[1:] + sum},
		{"standard base64 '+' in the hash", "$2a$04$" + salt + "+" + sum[1:]},
		{"padding in the hash", "$2a$04$" + salt + sum[:30] + "="},
		{"line breaks inside the salt", "$2a$04$" + salt[:10] + "\n\n" + salt[12:] + sum},
		{"unused salt bits set", "$2a$04$" + salt[:21] + "/" + sum},
		{"unused hash bits set", "$2a$04$" + salt + sum[:30] + "3"},
		{"Django's bcrypt wrapper", "bcrypt$" + good},
	} {
		mustRefuse(t, h, tc.name, tc.encoded)
	}
	for _, c := range []string{"04", "10", "14"} {
		if err := Check(withCost(c)); err != nil {
			t.Errorf("cost %s: Check got %v, want nil", c, err)
		}
	}
}
