package account

import (
	"context"
	"crypto/rand"
	"errors"
	"strings"
	"testing"

	"github.com/accountpw/accountpw/models"
	"github.com/accountpw/accountpw/services/store"
)

func randomPassword(n int) string {
	const alphabet = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789!#%&*+-=?@^_"
	b := make([]byte, n)
	rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

// The policy's vectors give the same outcome through {token,new} and
// {old,new}: one policy, whichever way a password is set.
func TestPolicyIsTheSameThroughBothBranches(t *testing.T) {
	emoji := []rune("😀😃😄😁😆😅😂🤣😊😇🙂🙃😉😌😍🥰😘😗😙😚😋😛😝😜🤪🤨🧐🤓😎🥸🤩🥳")
	var e128 strings.Builder
	for i := range 128 {
		e128.WriteRune(emoji[(i*7)%len(emoji)])
	}
	vectors := []struct {
		name string
		pw   string
		want error
	}{
		{"14 code points", randomPassword(14), models.ErrPasswordTooShort},
		{"15 code points", randomPassword(15), nil},
		{"128 code points", randomPassword(128), nil},
		{"129 code points", randomPassword(129), models.ErrPasswordTooLong},
		{"128 emoji (512 bytes)", e128.String(), nil},
		{"15 after NFKC, 23 typed", strings.Repeat("e\u0301", 8) + "Kx9#mQ2", nil},
		{"14 after NFKC", strings.Repeat("e\u0301", 7) + "Kx9#mQ2", models.ErrPasswordTooShort},
		{"NUL inside", "abc\x00" + randomPassword(16), models.ErrPasswordInvalidCharacter},
		{"listed password", "1qaz2wsx3edc4rfv", models.ErrPasswordBlocklisted},
		{"passwordpassword", "passwordpassword", models.ErrPasswordPredictable},
		{"1234567890123456", "1234567890123456", models.ErrPasswordPredictable},
		{"the address", "Alice.Wonderland@Example.org", models.ErrPasswordContext},
		{"four-word passphrase", "velvet orbit copper lantern", nil},
		{"CJK passphrase", "月光下的猫咪喜欢吃新鲜的鱼和米饭", nil},
		{"spaces as typed", " Velvet orbit  copper lantern ", nil},
	}
	eachDB(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		ctx := context.Background()
		const addr = "alice.wonderland@example.org"
		u := e.mustUser(t, addr, pwA)
		current := pwA
		for _, v := range vectors {
			token := e.mustToken(t, addr)
			viaReset := e.p.Reset(ctx, client, token, v.pw)
			if viaReset == nil {
				e.mail.next(t) // notice
				current = v.pw
			}
			viaChange := e.p.Change(ctx, client, models.Session{UserID: u.ID}, current, v.pw)
			if viaChange == nil {
				e.mail.next(t)
				current = v.pw
			}
			for branch, got := range map[string]error{"reset": viaReset, "change": viaChange} {
				if !errors.Is(got, v.want) || (v.want == nil) != (got == nil) {
					t.Errorf("%s through %s: got %v, want %v", v.name, branch, got, v.want)
				}
			}
		}
		// Verification uses the same normalisation, and nothing else: the
		// stored password is " Velvet orbit  copper lantern ".
		for _, old := range []string{"Velvet orbit copper lantern", " velvet orbit  copper lantern ", " Velvet orbit copper lantern "} {
			if err := e.p.Change(ctx, client, models.Session{UserID: u.ID}, old, pwB); !errors.Is(err, models.ErrWrongPassword) {
				t.Errorf("old %q: got %v, want ErrWrongPassword (no trimming, folding or collapsing)", old, err)
			}
		}
		if err := e.p.Change(ctx, client, models.Session{UserID: u.ID}, current, "caf\u00e9 orbit lantern meadow"); err != nil {
			t.Fatal(err)
		}
		e.mail.next(t)
		if err := e.p.Change(ctx, client, models.Session{UserID: u.ID}, "cafe\u0301 orbit lantern meadow", pwB); err != nil {
			t.Errorf("the decomposed spelling of the precomposed password must verify: %v", err)
		}
	})
}
