// Package policy decides whether a new password is acceptable for an
// account: the shape rules of models, a blocklist of common passwords, not
// built from the account's address or service words, a zxcvbn strength
// estimate (inside a slot of the shared slots.Pool) and an optional Pwned
// Passwords range check.
//
// It imports models, config, slots and zxcvbn.
package policy

import (
	"cmp"
	"context"
	"slices"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/trustelem/zxcvbn"
	"github.com/trustelem/zxcvbn/frequency"

	"github.com/accountpw/accountpw/models"
	"github.com/accountpw/accountpw/services/config"
	"github.com/accountpw/accountpw/services/slots"
)

// Policy limits. A password whose letters and symbols, once every context
// word is cut out, number fewer than minOwnRunes is "built from" context.
// zxcvbn sees only the first strengthRunes: its cost grows faster than the
// square of the length (about 25 ms at 100 runes on a 2-core host, 2.6 ms at
// 41), and no password gets stronger in its estimate past that. It first
// sees only the first quickRunes (0.7 ms): appending characters never makes
// a password easier to guess in zxcvbn's model (its guesses are a product
// over matches covering the whole password, each at least one), so a
// password whose beginning already scores high enough is accepted without
// estimating the rest; only the others pay for the longer estimate.
const (
	minOwnRunes   = 8
	minPartRunes  = 4
	quickRunes    = 24
	strengthRunes = 100
)

// commonPasswords is zxcvbn's list of the 30,000 most common passwords (all
// lower case), built on first use.
var commonPasswords = sync.OnceValue(func() map[string]struct{} {
	list := frequency.FrequencyLists["passwords"]
	set := make(map[string]struct{}, len(list))
	for _, w := range list {
		set[strings.ToLower(w)] = struct{}{}
	}
	return set
})

// Policy decides whether a new password is acceptable for an account. It is
// safe for concurrent use.
type Policy struct {
	minScore int
	words    []string
	hibp     *hibp // nil when the breach check is off
	// slots bound concurrent strength estimates: zxcvbn allocates up to
	// ~17 MB and ~100 ms of CPU on a 100-character password, so unbounded
	// it would let a burst of requests exhaust memory before any hash is
	// even attempted. It is the pool argon2id hashing uses too.
	slots *slots.Pool
}

// New returns the policy of the password section (minimum zxcvbn score,
// context words, breach check), estimating strength inside pool.
func New(cfg config.Password, pool *slots.Pool) *Policy {
	p := &Policy{minScore: cfg.MinScore, words: cfg.ContextWords, slots: pool}
	if cfg.BreachCheck.Enabled {
		p.hibp = newHIBP(cfg.BreachCheck)
	}
	return p
}

// Check applies the whole policy to a normalised password for the account
// with address email, in this order, returning the first failure:
//
//   - models.CheckPasswordShape: length and control characters;
//   - models.ErrPasswordBlocklisted: the whole password, lower-cased, is one
//     of the 30,000 common passwords (never a substring match: a long
//     passphrase that contains a common word is fine);
//   - models.ErrPasswordContext: the password contains the email, its local
//     part or a part of it (4+ characters), or a context word, and cutting
//     all of them out (ignoring case) leaves fewer than 8 characters that
//     are not digits, punctuation, spaces or ASCII symbols;
//   - models.ErrPasswordPredictable: zxcvbn scores it below MinScore, with
//     the email, its parts and the context words as known inputs;
//   - the breach check, when enabled: models.ErrPasswordBreached, or
//     models.ErrUnavailable if it fails closed, or ctx's error.
//
// Context comes before strength so that the email as password is reported
// as context, the more helpful reason.
func (p *Policy) Check(ctx context.Context, normalized, email string) error {
	if err := models.CheckPasswordShape(normalized); err != nil {
		return err
	}
	lower := strings.ToLower(normalized)
	if _, ok := commonPasswords()[lower]; ok {
		return models.ErrPasswordBlocklisted
	}
	cut, inputs := p.contextWords(email)
	if builtFrom(lower, cut) {
		return models.ErrPasswordContext
	}
	score, err := p.strength(ctx, normalized, inputs)
	if err != nil {
		return err
	}
	if score < p.minScore {
		return models.ErrPasswordPredictable
	}
	if p.hibp != nil {
		return p.hibp.check(ctx, normalized)
	}
	return nil
}

// strength runs zxcvbn inside a bounded slot: on the first quickRunes of the
// password, and when that does not reach MinScore and the password is
// longer, on its first strengthRunes. Errors: models.ErrHashBusy, ctx's
// error.
func (p *Policy) strength(ctx context.Context, pw string, inputs []string) (int, error) {
	release, err := p.slots.Acquire(ctx)
	if err != nil {
		return 0, err
	}
	defer release()
	quick := prefix(pw, quickRunes)
	score := zxcvbn.PasswordStrength(quick, inputs).Score
	if score >= p.minScore || len(quick) == len(pw) {
		return score, nil
	}
	return zxcvbn.PasswordStrength(prefix(pw, strengthRunes), inputs).Score, nil
}

// contextWords returns the lower-cased words a password is checked against:
// cut, longest first, are those builtFrom removes (the email, the configured
// words, and the local part and its pieces split on . _ - + when they have
// at least minPartRunes, so that "al" or "jo" do not count); inputs are all
// of them, for zxcvbn.
func (p *Policy) contextWords(email string) (cut, inputs []string) {
	email = strings.ToLower(models.NormalizePassword(email))
	local, _, _ := strings.Cut(email, "@")
	parts := append([]string{local}, strings.FieldsFunc(local, func(r rune) bool { return strings.ContainsRune("._-+", r) })...)
	cut = []string{email}
	for _, w := range p.words {
		cut = append(cut, strings.ToLower(models.NormalizePassword(w)))
	}
	for _, w := range parts {
		if utf8.RuneCountInString(w) >= minPartRunes {
			cut = append(cut, w)
		}
	}
	inputs = append(slices.Clone(cut), parts...)
	cut = slices.DeleteFunc(cut, func(w string) bool { return w == "" })
	slices.SortFunc(cut, func(a, b string) int { return cmp.Or(cmp.Compare(len(b), len(a)), strings.Compare(a, b)) })
	return slices.Compact(cut), slices.DeleteFunc(inputs, func(w string) bool { return w == "" })
}

// builtFrom reports whether lower contains one of the words and has too
// little of its own once they are all cut out.
func builtFrom(lower string, words []string) bool {
	rest := lower
	for _, w := range words {
		rest = strings.ReplaceAll(rest, w, "")
	}
	own := 0
	for _, r := range rest {
		if !(unicode.IsNumber(r) || unicode.IsPunct(r) || unicode.IsSpace(r) || r < utf8.RuneSelf && !unicode.IsLetter(r)) {
			own++
		}
	}
	return rest != lower && own < minOwnRunes
}

func prefix(s string, runes int) string {
	for i := range s {
		if runes == 0 {
			return s[:i]
		}
		runes--
	}
	return s
}
