package handlers

import (
	"bytes"
	"encoding/json"
	"io"
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

// memberNames are the only accepted member names, matched case-sensitively.
var memberNames = map[string]members{"email": hasEmail, "token": hasToken, "new": hasNew, "old": hasOld}

// passwordBody is a decoded body. Only the fields named in set were sent.
type passwordBody struct {
	set                                    members
	email, token, newPassword, oldPassword string
}

// decodeJSON parses a password body strictly: exactly one JSON object, only
// the members email, token, new and old (exact case), each at most once and
// each a non-empty string, nothing but whitespace after the object, valid
// UTF-8 and no unpaired surrogate escapes. encoding/json alone would accept
// case variants, keep the last duplicate, ignore trailing data and replace bad
// UTF-8 with U+FFFD, each of which could silently change a password. Every
// failure is models.ErrInvalidBody; decoder text never reaches a client.
func decodeJSON(body []byte) (passwordBody, error) {
	var b passwordBody
	if !utf8.Valid(body) || hasLoneSurrogate(body) {
		return b, models.ErrInvalidBody
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return b, models.ErrInvalidBody
	}
	for dec.More() {
		key, err := dec.Token()
		if err != nil {
			return b, models.ErrInvalidBody
		}
		name, _ := key.(string)
		m, known := memberNames[name]
		if !known || b.set&m != 0 {
			return b, models.ErrInvalidBody
		}
		value, err := dec.Token()
		s, isString := value.(string)
		if err != nil || !isString || s == "" {
			return b, models.ErrInvalidBody
		}
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
	}
	if tok, err := dec.Token(); err != nil || tok != json.Delim('}') {
		return b, models.ErrInvalidBody
	}
	if _, err := dec.Token(); err != io.EOF {
		return b, models.ErrInvalidBody
	}
	return b, nil
}

// hasLoneSurrogate reports whether a \uD800–\uDFFF escape in body is not part
// of a high-low pair. In JSON a backslash only occurs inside strings and
// always starts an escape, so walking escape by escape over the whole body is
// exact for any input the decoder would accept.
func hasLoneSurrogate(body []byte) bool {
	for i := 0; i < len(body); i++ {
		if body[i] != '\\' {
			continue
		}
		r, ok := unicodeEscape(body, i)
		switch {
		case !ok:
			i++ // a two-byte escape such as \" or \\
		case r >= 0xDC00 && r <= 0xDFFF:
			return true
		case r >= 0xD800 && r <= 0xDBFF:
			low, ok := unicodeEscape(body, i+6)
			if !ok || low < 0xDC00 || low > 0xDFFF {
				return true
			}
			i += 11
		default:
			i += 5
		}
	}
	return false
}

// unicodeEscape decodes the \uXXXX escape starting at body[i], if it is one.
func unicodeEscape(body []byte, i int) (rune, bool) {
	if i+6 > len(body) || body[i] != '\\' || body[i+1] != 'u' {
		return 0, false
	}
	var r rune
	for _, c := range body[i+2 : i+6] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}
