package services

import (
	"cmp"
	"context"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/trustelem/zxcvbn"
	"github.com/trustelem/zxcvbn/frequency"

	"github.com/accountpw/accountpw/models"
)

// Policy limits. A password whose letters and symbols, once every context
// word is cut out, number fewer than minOwnRunes is "built from" context
// (R-PWD-9). zxcvbn sees only the first strengthRunes: its cost grows faster
// than the square of the length (about 60–80 ms at 100 runes on a 2-core
// host), and no password gets stronger in its estimate past that.
const (
	defaultMinScore = 3
	minOwnRunes     = 8
	minPartRunes    = 4
	strengthRunes   = 100
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

// PolicyConfig configures the password policy beyond models' length and
// character rules.
type PolicyConfig struct {
	// MinScore is the lowest zxcvbn score (1–4) accepted; zero means 3 and
	// larger values mean 4.
	MinScore int
	// ContextWords are service words a password must not be built from;
	// nil means {"accountpw"}.
	ContextWords []string
	// HIBP configures the optional Pwned Passwords check.
	HIBP HIBPConfig
	// Slots bounds concurrent strength estimates (zero: GOMAXPROCS) and Wait
	// is how long a caller waits for one (zero: 200ms) before
	// models.ErrHashBusy. zxcvbn allocates up to ~17 MB and ~100 ms of CPU
	// on a 100-character password, so unbounded it would let a burst of
	// requests exhaust memory before any argon2 slot is even asked for.
	Slots int
	Wait  time.Duration
}

// Policy decides whether a new password is acceptable for an account. It is
// safe for concurrent use.
type Policy struct {
	cfg   PolicyConfig
	hibp  *hibp // nil when the breach check is off
	slots slots
}

// NewPolicy fills in cfg's defaults and returns a Policy.
func NewPolicy(cfg PolicyConfig) *Policy {
	if cfg.MinScore <= 0 {
		cfg.MinScore = defaultMinScore
	}
	cfg.MinScore = min(cfg.MinScore, 4)
	if cfg.ContextWords == nil {
		cfg.ContextWords = []string{"accountpw"}
	}
	if cfg.Slots <= 0 {
		cfg.Slots = runtime.GOMAXPROCS(0)
	}
	if cfg.Wait <= 0 {
		cfg.Wait = 200 * time.Millisecond
	}
	p := &Policy{cfg: cfg, slots: newSlots(cfg.Slots)}
	if cfg.HIBP.Enabled {
		p.hibp = newHIBP(cfg.HIBP)
	}
	return p
}

// Check applies the whole policy to a normalised password for the account
// with address email, in this order, returning the first failure:
//
//   - models.CheckPasswordShape: length and control characters;
//   - models.ErrPasswordBlocklisted: the whole password, lower-cased, is one
//     of the 30,000 common passwords (never a substring match, R-PWD-8);
//   - models.ErrPasswordContext: the password contains the email, its local
//     part or a part of it (4+ characters), or a context word, and cutting
//     all of them out (ignoring case) leaves fewer than 8 characters that
//     are not digits, punctuation, spaces or ASCII symbols (R-PWD-9);
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
	if score < p.cfg.MinScore {
		return models.ErrPasswordPredictable
	}
	if p.hibp != nil {
		return p.hibp.check(ctx, normalized)
	}
	return nil
}

// strength runs zxcvbn on the first strengthRunes of the password inside a
// bounded slot. Errors: models.ErrHashBusy, ctx's error.
func (p *Policy) strength(ctx context.Context, pw string, inputs []string) (int, error) {
	release, err := p.slots.acquire(ctx, p.cfg.Wait)
	if err != nil {
		return 0, err
	}
	defer release()
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
	for _, w := range p.cfg.ContextWords {
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
