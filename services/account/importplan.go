package account

import (
	"time"

	"github.com/accountpw/accountpw/models"
)

// What one import line does to its account.
const (
	lineImported  = "imported"  // a new account
	lineUpdated   = "updated"   // an existing account changed
	lineUnchanged = "unchanged" // an existing account that already was as the line says
)

// errAddressTaken is a line's error when its address belongs to another id;
// ErrAccountExists to a Go caller.
var errAddressTaken = problems{{field: memberEmail, code: codeEmailTaken, cause: ErrAccountExists,
	text: "the address belongs to an account with another id"}}

// importView is the state a line is decided against: the accounts a batch
// touches as read from the database (base), under the writes decided
// before this line (over). In a dry run over is kept across batches, so
// later batches see what earlier ones would have written.
type importView struct {
	base      map[string]models.User // by id, as read
	baseOwner map[string]string      // lookup key → id, as read
	over      map[string]models.User // by id, as decided
	overOwner map[string]string      // lookup key → id, "" for a key given up
}

func newImportView() *importView {
	return &importView{base: map[string]models.User{}, baseOwner: map[string]string{},
		over: map[string]models.User{}, overOwner: map[string]string{}}
}

// load replaces base with what the database holds for a batch.
func (v *importView) load(users []models.User) {
	clear(v.base)
	clear(v.baseOwner)
	for _, u := range users {
		v.base[u.ID] = u
		v.baseOwner[u.EmailKey] = u.ID
	}
}

func (v *importView) user(id string) (models.User, bool) {
	if u, ok := v.over[id]; ok {
		return u, true
	}
	u, ok := v.base[id]
	return u, ok
}

func (v *importView) owner(key string) string {
	if id, ok := v.overOwner[key]; ok {
		return id
	}
	return v.baseOwner[key]
}

// set records a decided write of u, whose key was old ("" for a new
// account).
func (v *importView) set(u models.User, old string) {
	if old != "" && old != u.EmailKey {
		v.overOwner[old] = ""
	}
	v.overOwner[u.EmailKey] = u.ID
	v.over[u.ID] = u
}

// importDecision is what a line does: its outcome, the account after it,
// whether the password hash was replaced (an event, and the end of reset
// tokens) or the address moved (the end of reset tokens), and a note when
// a line's hash was not taken because the stored password is newer.
type importDecision struct {
	outcome  string
	user     models.User
	oldKey   string
	replaced bool
	moved    bool
	kept     bool
}

// decide applies the import rules to line l against v, at now:
//
//   - An address held by another id is an error for the line.
//   - A new id is created with the line's hash (none: no password), locale
//     and password_changed_at (default: now).
//   - For an existing id the address is set, and the locale when the line
//     has one ("" clears it). Without password_hash the stored hash and
//     password_changed_at stay as they are. With the stored hash, the
//     line's password_changed_at, when given, is taken as it is: it is
//     the same password. With another hash, the line's hash and
//     password_changed_at (default: now) replace the stored ones only if
//     that time is later than the stored one, or the account has no
//     password: a line never takes an account back to an older password
//     than one set here since (re-running an old file is safe).
func decide(l importLine, v *importView, now time.Time) (importDecision, error) {
	cur, exists := v.user(l.id)
	switch {
	case exists && l.exists == onlyNew:
		return importDecision{}, ErrIDExists
	case !exists && l.exists == onlyExisting:
		return importDecision{}, ErrNoAccount
	}
	if owner := v.owner(l.key); owner != "" && owner != l.id {
		return importDecision{}, errAddressTaken
	}
	if !exists {
		u := models.User{ID: l.id, Email: l.email, EmailKey: l.key, PasswordHash: l.hash, Locale: l.locale,
			PasswordChangedAt: l.changedAt, CreatedAt: now, UpdatedAt: now}
		if u.PasswordChangedAt.IsZero() {
			u.PasswordChangedAt = now
		}
		return importDecision{outcome: lineImported, user: u}, nil
	}
	d := importDecision{outcome: lineUnchanged, user: cur, oldKey: cur.EmailKey}
	next := cur
	next.Email, next.EmailKey = l.email, l.key
	if l.hasLocale {
		next.Locale = l.locale
	}
	switch l.hash {
	case "":
	case cur.PasswordHash:
		if !l.changedAt.IsZero() {
			next.PasswordChangedAt = l.changedAt
		}
	default:
		at := l.changedAt
		if at.IsZero() {
			at = now
		}
		if cur.PasswordHash == "" || at.After(cur.PasswordChangedAt) {
			next.PasswordHash, next.PasswordChangedAt = l.hash, at
			d.replaced = true
		} else {
			d.kept = true
		}
	}
	if next.Email == cur.Email && next.EmailKey == cur.EmailKey && next.PasswordHash == cur.PasswordHash &&
		next.Locale == cur.Locale && next.PasswordChangedAt.Equal(cur.PasswordChangedAt) {
		return d, nil
	}
	next.UpdatedAt = now
	d.outcome, d.user, d.moved = lineUpdated, next, next.EmailKey != cur.EmailKey
	return d, nil
}

// importPlan is a batch's writes, in rounds: a write that depends on an
// earlier write of the batch (the same account again, or an address
// another account gave up) goes in a later round, because a unique key is
// checked row by row within one statement. Most batches have one round.
type importPlan struct {
	rounds    [][]plannedWrite
	lastRound map[string]int // id → round of its last write
	freed     map[string]int // key → round in which it was given up
	endTokens []string       // accounts whose live reset tokens end
	changed   []models.User  // accounts whose hash the batch replaced
	created   []models.User  // accounts the batch created
	moved     []models.User  // accounts the batch moved to another address
}

type plannedWrite struct {
	user   models.User
	insert bool
}

func newImportPlan() *importPlan {
	return &importPlan{lastRound: map[string]int{}, freed: map[string]int{}}
}

// add plans the write of decision d.
func (p *importPlan) add(d importDecision) {
	if d.outcome == lineUnchanged {
		return
	}
	round := 0
	if r, ok := p.lastRound[d.user.ID]; ok {
		round = r + 1
	}
	if r, ok := p.freed[d.user.EmailKey]; ok {
		round = max(round, r+1)
	}
	for len(p.rounds) <= round {
		p.rounds = append(p.rounds, nil)
	}
	p.rounds[round] = append(p.rounds[round], plannedWrite{user: d.user, insert: d.outcome == lineImported})
	p.lastRound[d.user.ID] = round
	if d.oldKey != "" && d.oldKey != d.user.EmailKey {
		p.freed[d.oldKey] = round
	}
	if d.replaced || d.moved {
		p.endTokens = append(p.endTokens, d.user.ID)
	}
	if d.replaced {
		p.changed = append(p.changed, d.user)
	}
	if d.moved {
		p.moved = append(p.moved, d.user)
	}
	if d.outcome == lineImported {
		p.created = append(p.created, d.user)
	}
}
