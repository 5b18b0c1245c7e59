package policy

import (
	"context"
	"crypto/rand"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/trustelem/zxcvbn"

	"github.com/accountpw/accountpw/models"
	"github.com/accountpw/accountpw/services/config"
	"github.com/accountpw/accountpw/services/slots"
)

const account = "alice.wonderland@example.org"

// listed are entries of zxcvbn's common-password list with 15+ characters.
var listed = []string{"1qaz2wsx3edc4rfv", "123456789987654321", "qazwsxedcrfvtgb", "momsanaladventure", "passwordstandard", "1234567890qwerty"}

// mustRandom returns n characters drawn uniformly from a 64-character
// alphabet with crypto/rand.
func mustRandom(t testing.TB, n int) string {
	t.Helper()
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	b := make([]byte, n)
	rand.Read(b)
	for i := range b {
		b[i] = alphabet[b[i]&63]
	}
	return string(b)
}

// emoji returns n distinct pictographs; a step of 37 keeps zxcvbn from
// seeing a sequence.
func emoji(n int) string {
	var b strings.Builder
	for i := range n {
		b.WriteRune(rune(0x1F300 + (i*37)%0x300))
	}
	return b.String()
}

func TestPolicyCheck(t *testing.T) {
	t.Parallel()
	p := newPolicy(nil)
	e := "e\u0301"
	for _, tc := range []struct {
		name, password string
		want           error
	}{
		{"14 random characters", "Qx7#mL2$vR9!kP", models.ErrPasswordTooShort},
		{"15 random characters", "Qx7#mL2$vR9!kPz", nil},
		{"64 random characters", mustRandom(t, 64), nil},
		{"128 random characters", mustRandom(t, 128), nil},
		{"129 random characters", mustRandom(t, 129), models.ErrPasswordTooLong},
		{"128 emoji, 512 bytes", emoji(128), nil},
		{"129 emoji", emoji(129), models.ErrPasswordTooLong},
		{"15 emoji", emoji(15), nil},
		{"8 composed é and 7 ASCII", models.NormalizePassword(strings.Repeat(e, 8) + "Kq7#pL2"), nil},
		{"7 composed é and 7 ASCII", models.NormalizePassword(strings.Repeat(e, 7) + "Kq7#pL2"), models.ErrPasswordTooShort},
		{"NUL inside", "abc\x00defghijklmnopqrs", models.ErrPasswordInvalidCharacter},
		{"line break inside", "velvet orbit\ncopper lantern", models.ErrPasswordInvalidCharacter},
		{"listed, upper case", "PasswordStandard", models.ErrPasswordBlocklisted},
		{"passwordpassword", "passwordpassword", models.ErrPasswordPredictable},
		{"1234567890123456", "1234567890123456", models.ErrPasswordPredictable},
		{"qwertyuiopasdfgh", "qwertyuiopasdfgh", models.ErrPasswordPredictable},
		{"iloveyouiloveyou", "iloveyouiloveyou", models.ErrPasswordPredictable},
		{"the email", account, models.ErrPasswordContext},
		{"the email in mixed case", "Alice.Wonderland@Example.org", models.ErrPasswordContext},
		{"the email and digits", account + "2024!", models.ErrPasswordContext},
		{"the local part and digits", "alice.wonderland123", models.ErrPasswordContext},
		{"local part pieces and digits", "alicewonderland123456", models.ErrPasswordContext},
		{"service name twice", "accountpwaccountpw1", models.ErrPasswordContext},
		{"service name and symbols", "AccountPW!!2024-#", models.ErrPasswordContext},
		{"service name inside a passphrase", "accountpw velvet orbit copper", nil},
		{"local part piece inside a longer word", "wonderlands of marble tundra", nil},
		{"20 random lower-case letters", "vqzkjhwpxtrmbnlgfdsy", nil},
		{"velvet orbit copper lantern", "velvet orbit copper lantern", nil},
		{"correct horse battery staple", "correct horse battery staple", nil},
		{"marble tundra pickle anthem", "marble tundra pickle anthem", nil},
		{"glacier sofa tomato whisper", "glacier sofa tomato whisper", nil},
		{"spaces kept", " Velvet orbit  copper lantern ", nil},
		{"CJK passphrase", "夜空に光る青い星と古い石の橋を渡る猫", nil},
	} {
		if got := p.Check(context.Background(), tc.password, account); !errors.Is(got, tc.want) || (got == nil) != (tc.want == nil) {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
	for _, pw := range listed {
		if got := p.Check(context.Background(), pw, account); !errors.Is(got, models.ErrPasswordBlocklisted) {
			t.Errorf("listed %q: got %v, want ErrPasswordBlocklisted", pw, got)
		}
	}
	t.Logf("listed passwords used: %q", listed)
}

func TestPolicyRandomAccepted(t *testing.T) {
	t.Parallel()
	p := newPolicy(nil)
	for range 50 {
		pw := mustRandom(t, 15)
		if err := p.Check(context.Background(), pw, account); err != nil {
			t.Errorf("%q: got %v, want nil (zxcvbn score %d)", pw, err, zxcvbn.PasswordStrength(pw, nil).Score)
		}
	}
}

// newPolicy is the default policy, changed by edit.
func newPolicy(edit func(*config.Password)) *Policy {
	cfg := config.DefaultPassword()
	if edit != nil {
		edit(&cfg)
	}
	return New(cfg, slots.New(4, 10*time.Second, nil))
}

func TestPolicyConfig(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, tc := range []struct {
		name     string
		edit     func(*config.Password)
		password string
		want     error
	}{
		{"score 2 refused by default", func(*config.Password) {}, "monkeybaseball12", models.ErrPasswordPredictable},
		{"score 2 accepted at MinScore 2", func(c *config.Password) { c.MinScore = 2 }, "monkeybaseball12", nil},
		{"a strong password passes MinScore 4", func(c *config.Password) { c.MinScore = 4 }, "Qx7#mL2$vR9!kPz", nil},
		{"own context word", func(c *config.Password) { c.ContextWords = []string{"Globex"} }, "globexGLOBEX2024!", models.ErrPasswordContext},
		{"no context words", func(c *config.Password) { c.ContextWords = []string{} }, "accountpw velvet", nil},
	} {
		if got := newPolicy(tc.edit).Check(ctx, tc.password, account); !errors.Is(got, tc.want) || (got == nil) != (tc.want == nil) {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
}

func BenchmarkPolicyCheck(b *testing.B) {
	p := newPolicy(nil)
	for _, bc := range []struct{ name, password string }{
		{"random 15", mustRandom(b, 15)},
		{"random 100", mustRandom(b, 100)},
		{"passphrase 100", strings.Repeat("velvet orbit copper lantern ", 4)[:100]},
		{"emoji 100", emoji(100)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := p.Check(context.Background(), bc.password, account); err != nil && bc.name != "passphrase 100" {
					b.Fatal(err)
				}
			}
		})
	}
}

// The quick estimate of a password's beginning never accepts what the
// estimate of the whole (first 100 runes) refuses, over passwords built the
// way weak ones are (words, repetition, sequences, dates, keyboard walks,
// the address) and random ones, at every length from 20 to 60.
func TestQuickEstimateAgreesWithTheWhole(t *testing.T) {
	t.Parallel()
	parts := []string{"password", "monkey", "dragon", "aaaa", "1234", "2024", "qwerty", "asdfgh", "abcd",
		"!", "ann", "example", "zz", "Summer", "letmein", "1qaz2wsx", "ilove", "you", " ", "0000"}
	random := func(n int) string { return mustRandom(t, n) }
	inputs := []string{"ann@example.org", "ann", "example", "accountpw"}
	seed := uint64(1)
	next := func(n int) int { seed = seed*6364136223846793005 + 1442695040888963407; return int(seed>>33) % n }
	for range 400 {
		var b strings.Builder
		n := 20 + next(41)
		for b.Len() < n {
			if next(5) == 0 {
				b.WriteString(random(1 + next(3)))
			} else {
				b.WriteString(parts[next(len(parts))])
			}
		}
		pw := b.String()
		quick := zxcvbn.PasswordStrength(prefix(pw, quickRunes), inputs).Score
		whole := zxcvbn.PasswordStrength(prefix(pw, strengthRunes), inputs).Score
		if quick >= 3 && whole < 3 {
			t.Errorf("%q: its first %d runes score %d, the whole %d", pw, quickRunes, quick, whole)
		}
	}
}
