package handlers

import (
	"bytes"
	"encoding/json"
	"io"
	"slices"
	"unicode/utf8"

	"github.com/accountpw/accountpw/models"
)

// members is the set of members present in a password body.
type members uint8

// The members a password body may carry.
const (
	hasEmail members = 1 << iota
	hasToken
	hasNew
	hasOld
)

// passwordBody is a decoded body. Only the fields named in set were sent.
type passwordBody struct {
	set                                    members
	email, token, newPassword, oldPassword string
}

// decodeJSON parses a password body strictly (see decodeMembers): only the
// members email, token, new and old. Every failure is models.ErrInvalidBody.
func decodeJSON(body []byte) (passwordBody, error) {
	var b passwordBody
	err := decodeMembers(body, passwordMembers[:], func(i int, s string) {
		m := members(1) << i
		b.set |= m
		switch m {
		case hasEmail:
			b.email = s
		case hasToken:
			b.token = s
		case hasNew:
			b.newPassword = s
		case hasOld:
			b.oldPassword = s
		}
	})
	if err != nil {
		return passwordBody{}, err
	}
	return b, nil
}

// passwordMembers are the password body's member names, in the order of
// their bits (hasEmail, hasToken, hasNew, hasOld).
var passwordMembers = [...]string{"email", "token", "new", "old"}

// decodeMembers parses body strictly as exactly one JSON object whose
// members are among names (exact case, at most 64), each at most once and
// each a non-empty string, with nothing but whitespace after the object,
// valid UTF-8 and no unpaired surrogate escapes, and calls set with each
// member's index in names and its value. encoding/json alone would accept
// case variants, keep the last duplicate, ignore trailing data and replace
// bad UTF-8 with U+FFFD, each of which could silently change a password.
// Every failure is models.ErrInvalidBody; decoder text never reaches a
// client.
func decodeMembers(body []byte, names []string, set func(i int, value string)) error {
	if !utf8.Valid(body) || models.HasLoneSurrogate(body) {
		return models.ErrInvalidBody
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return models.ErrInvalidBody
	}
	var seen uint64
	for dec.More() {
		key, err := dec.Token()
		if err != nil {
			return models.ErrInvalidBody
		}
		name, _ := key.(string)
		i := slices.Index(names, name)
		if i < 0 || seen&(1<<i) != 0 {
			return models.ErrInvalidBody
		}
		value, err := dec.Token()
		s, isString := value.(string)
		if err != nil || !isString || s == "" {
			return models.ErrInvalidBody
		}
		seen |= 1 << i
		set(i, s)
	}
	if tok, err := dec.Token(); err != nil || tok != json.Delim('}') {
		return models.ErrInvalidBody
	}
	if _, err := dec.Token(); err != io.EOF {
		return models.ErrInvalidBody
	}
	return nil
}
