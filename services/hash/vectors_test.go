package hash

import (
	"context"
	"strings"
	"testing"

	"github.com/accountpw/accountpw/services/config"
)

// Vectors made by the two libraries docs/adopting.md shows for verifying our
// hashes, independent of x/crypto, with a fixed salt and cheap parameters:
//
// npm argon2 0.45.1 (node 20), which writes its parameters as m,p,t:
//
//	argon2.hash(pw, {salt: Buffer.from("npmargon2saltvec"), memoryCost: 1024, timeCost: 2, parallelism: 2})
//	argon2.hash(pw, {…the same…, type: argon2.argon2i})
//	argon2.hash("correct horse battery staple", {salt})  // its defaults
//
// argon2-cffi 21.1.0 (Debian's python3-argon2), which writes m,t,p:
//
//	argon2.low_level.hash_secret(pw.encode(), b"cffiargon2saltvc", time_cost=2, memory_cost=1024,
//	    parallelism=2, hash_len=32, type=Type.ID)  // and type=Type.I
//
// Both hash the UTF-8 bytes they are given: "ﬁnal ①" unnormalised.
const (
	npmArgon2id          = "$argon2id$v=19$m=1024,p=2,t=2$bnBtYXJnb24yc2FsdHZlYw$oIJWKz2dtmwzPfDqp3Jvls/UVN/BVCTwJt0rzmwdfAQ"
	npmArgon2i           = "$argon2i$v=19$m=1024,p=2,t=2$bnBtYXJnb24yc2FsdHZlYw$HzgSs2bCt04Q/4R/O1WwY9B2Uc3XIMQU1QupVAhoZm4"
	npmArgon2idLigature  = "$argon2id$v=19$m=1024,p=2,t=2$bnBtYXJnb24yc2FsdHZlYw$cp2dVNB7NV1E+m7NocRuAGSbdhtntQlquad9uPriPG8"
	npmArgon2idDefaults  = "$argon2id$v=19$m=65536,p=4,t=3$bnBtYXJnb24yc2FsdHZlYw$OBmDwAXRfYrMgjemZa86U6T8B+J7MSxYSlw6m99W1eQ"
	cffiArgon2id         = "$argon2id$v=19$m=1024,t=2,p=2$Y2ZmaWFyZ29uMnNhbHR2Yw$PyD2WrMDZJlOCfDlIHz3yUnA4fkLIW5yiurIQIm7bpQ"
	cffiArgon2idLigature = "$argon2id$v=19$m=1024,t=2,p=2$Y2ZmaWFyZ29uMnNhbHR2Yw$7ZtyiI7naTiyeFNqbPIQcIEZYvRBjFc+6Nvo4E6z8Ks"
	cffiArgon2iLigature  = "$argon2i$v=19$m=1024,t=2,p=2$Y2ZmaWFyZ29uMnNhbHR2Yw$Lo7zqzws/P8QPin71gFQNJmuyll63Jibj1iKlxk6Grc"
)

// TestOtherLibrariesVectors: hashes of npm argon2 and argon2-cffi pass
// Check (whatever their parameter order), verify with the password as it
// was hashed and, for a non-NFKC one, only with that form, and are outdated
// when weaker than ours.
func TestOtherLibrariesVectors(t *testing.T) {
	t.Parallel()
	const plain, typed = "correct horse battery staple", "ﬁnal ①"
	h := mustHasher(t, config.DefaultPassword())
	for _, tc := range []struct {
		name, password, encoded string
		match, outdated         bool
	}{
		{"npm argon2id", plain, npmArgon2id, true, true},
		{"npm argon2id, wrong password", plain + "!", npmArgon2id, false, false},
		{"npm argon2i", plain, npmArgon2i, true, true},
		{"npm argon2id of a non-NFKC password", typed, npmArgon2idLigature, true, true},
		{"npm argon2id of a non-NFKC password, typed plainly", "final 1", npmArgon2idLigature, false, false},
		{"npm argon2id at our parameters", plain, npmArgon2idDefaults, true, false},
		{"argon2-cffi argon2id", plain, cffiArgon2id, true, true},
		{"argon2-cffi argon2id of a non-NFKC password", typed, cffiArgon2idLigature, true, true},
		{"argon2-cffi argon2i of a non-NFKC password", typed, cffiArgon2iLigature, true, true},
	} {
		if err := Check(tc.encoded); err != nil {
			t.Errorf("%s: Check got %v, want nil", tc.name, err)
			continue
		}
		got, err := h.Compare(context.Background(), tc.password, tc.encoded)
		if err != nil || got.Match != tc.match || got.Outdated != tc.outdated {
			t.Errorf("%s: got %+v %v, want match %v outdated %v", tc.name, got, err, tc.match, tc.outdated)
		}
	}
}

// TestParameterOrderIsKept: a hash written m,p,t parses back to the same
// string, so the one-spelling rule holds for every order, and ours are m,t,p.
func TestParameterOrderIsKept(t *testing.T) {
	t.Parallel()
	for _, encoded := range []string{npmArgon2id, cffiArgon2id,
		strings.Replace(cffiArgon2id, "m=1024,t=2,p=2", "p=2,t=2,m=1024", 1)} {
		s, err := parsePHC(encoded)
		if err != nil || s.String() != encoded {
			t.Errorf("got %q %v back, want %q", s.String(), err, encoded)
		}
	}
	ours := mustHash(t, mustHasher(t, hcfg(cheap, nil, "", "")), "pw")
	if !strings.Contains(ours, "$m=64,t=1,p=1$") {
		t.Errorf("got %s, want m,t,p", ours)
	}
}

// TestCompareOutdated: which matching hashes Compare asks to replace.
func TestCompareOutdated(t *testing.T) {
	t.Parallel()
	const pw = "velvet orbit copper lantern"
	current := config.Argon2{Memory: 128, Time: 2, Threads: 2}
	plain := mustHasher(t, hcfg(current, nil, "", ""))
	pepperedOld := mustHasher(t, hcfg(current, pepper(2), "2", ""))
	rotated := mustHasher(t, hcfg(current, pepper(3), "3", oldPepper("2", 2)))
	weakerMemory := mustHasher(t, hcfg(config.Argon2{Memory: 64, Time: 2, Threads: 2}, nil, "", ""))
	weakerTime := mustHasher(t, hcfg(config.Argon2{Memory: 128, Time: 1, Threads: 2}, nil, "", ""))
	otherLanes := mustHasher(t, hcfg(config.Argon2{Memory: 128, Time: 2, Threads: 1}, nil, "", ""))
	stronger := mustHasher(t, hcfg(config.Argon2{Memory: 256, Time: 3, Threads: 2}, nil, "", ""))
	for _, tc := range []struct {
		name     string
		h        *Hasher
		encoded  string
		outdated bool
	}{
		{"ours, current", plain, mustHash(t, plain, pw), false},
		{"less memory", plain, mustHash(t, weakerMemory, pw), true},
		{"fewer passes", plain, mustHash(t, weakerTime, pw), true},
		{"other lanes", plain, mustHash(t, otherLanes, pw), false},
		{"stronger", plain, mustHash(t, stronger, pw), false},
		{"unpeppered while a pepper is set", rotated, mustHash(t, plain, pw), true},
		{"retired pepper", rotated, mustHash(t, pepperedOld, pw), true},
		{"current pepper", rotated, mustHash(t, rotated, pw), false},
		{"peppered while none is set", mustHasher(t, hcfg(current, nil, "", oldPepper("2", 2))), mustHash(t, pepperedOld, pw), true},
		{"bcrypt", plain, bcryptXCrypto, true},
	} {
		password := pw
		if tc.encoded == bcryptXCrypto {
			password = "correct horse battery staple"
		}
		got, err := tc.h.Compare(context.Background(), password, tc.encoded)
		if err != nil || !got.Match || got.Outdated != tc.outdated {
			t.Errorf("%s: got %+v %v, want a match, outdated %v", tc.name, got, err, tc.outdated)
		}
	}
}

// TestDummyHash: nothing matches it, it is in the current format and
// parameters (so it costs what a current hash costs), and each Hasher has
// its own.
func TestDummyHash(t *testing.T) {
	t.Parallel()
	h := mustHasher(t, hcfg(cheap, pepper(1), "1", ""))
	d := h.DummyHash()
	if !strings.HasPrefix(d, "$argon2id$v=19$m=64,t=1,p=1,k=1$") {
		t.Errorf("got %s, want the current parameters and pepper", d)
	}
	for _, pw := range []string{"", "pw", "correct horse battery staple"} {
		if got, err := h.Compare(context.Background(), pw, d); err != nil || got.Match {
			t.Errorf("%q: got %+v %v, want no match", pw, got, err)
		}
	}
	if other := mustHasher(t, hcfg(cheap, pepper(1), "1", "")).DummyHash(); other == d {
		t.Error("two hashers have the same dummy hash")
	}
}
