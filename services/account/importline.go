package account

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/accountpw/accountpw/models"
	"github.com/accountpw/accountpw/services/hash"
)

// errBlankLine marks a line of white space only, which is skipped.
var errBlankLine = errors.New("blank line")

// errLineTooLong is readLine's error for a line over MaxImportLine bytes.
var errLineTooLong = fmt.Errorf("line longer than %d bytes", MaxImportLine)

// parseRaw turns one read line into an account, or the reason it is none.
func parseRaw(n int, raw []byte, readErr error, now time.Time, checkHash func(string) error) (importLine, error) {
	if errors.Is(readErr, errLineTooLong) {
		return importLine{}, bodyProblem(errLineTooLong.Error())
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		return importLine{}, errBlankLine
	}
	return parseImportLine(n, raw, now, checkHash)
}

// readLine returns the next line without its line ending. A line longer
// than the reader's buffer is consumed and reported as errLineTooLong; the
// last line may lack a newline (io.EOF with data).
func readLine(br *bufio.Reader) ([]byte, error) {
	b, err := br.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		for errors.Is(err, bufio.ErrBufferFull) {
			_, err = br.ReadSlice('\n')
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, err
		}
		return []byte{}, errLineTooLong
	}
	if errors.Is(err, io.EOF) && len(b) == 0 {
		return nil, io.EOF
	}
	b = bytes.TrimSuffix(bytes.TrimSuffix(b, []byte("\n")), []byte("\r"))
	return b, err
}

// importLine is one account of an import file or an admin API write,
// checked: every rule that needs no database has passed.
type importLine struct {
	n         int // line number, from 1
	id        string
	email     string
	key       string // models.EmailKey(email)
	hash      string // "" when the line has none
	locale    string // canonical; meaningful when hasLocale
	hasLocale bool
	changedAt time.Time // UTC, microseconds; zero when the line has none
	// password is a password in clear (the admin API's), meaningful when
	// hasPassword: the policy checks it and it is hashed into hash before
	// the line is decided.
	password    string
	hasPassword bool
	// exists requires the account to exist already (onlyExisting), or not
	// to (onlyNew); anyExisting, the import's rule, takes either.
	exists existence
}

// existence is what a line requires of its account's existence.
type existence int

const (
	anyExisting existence = iota
	onlyNew
	onlyExisting
)

// Members of an import line. Names are exact: another case is unknown.
const (
	memberID        = "id"
	memberEmail     = "email"
	memberHash      = "password_hash"
	memberLocale    = "locale"
	memberChangedAt = "password_changed_at"
	// memberPassword is the admin API's alone: a password in clear, which
	// is checked by the policy and hashed here. An import file never
	// carries one.
	memberPassword = "password"
)

// The members each form of an account may carry, in the order messages
// list them.
var (
	lineMembers = []string{memberID, memberEmail, memberHash, memberLocale, memberChangedAt}
	putMembers  = []string{memberEmail, memberPassword, memberHash, memberLocale, memberChangedAt}
)

// parseImportLine decodes and checks one line: a single flat JSON object
// whose values are strings, with known members only, none twice, and no
// data after it; id and email present. now bounds password_changed_at;
// checkHash (Hasher.CheckImport) caps the cost of a password_hash. The
// error (problems) says every problem found and never quotes an address, a
// hash or any other value of the line: only member names this service
// defines.
func parseImportLine(n int, b []byte, now time.Time, checkHash func(string) error) (importLine, error) {
	values, err := decodeFlatObject(b, lineMembers)
	if err != nil {
		return importLine{n: n}, err
	}
	return checkLine(n, values, now, checkHash)
}

// checkLine applies every rule that needs no database to an account's
// members; checkHash caps the cost of a password_hash.
func checkLine(n int, values map[string]string, now time.Time, checkHash func(string) error) (importLine, error) {
	l := importLine{n: n}
	var ps problems
	bad := func(field, code string, cause error, format string, args ...any) {
		ps = append(ps, problem{field: field, code: code, cause: cause, text: fmt.Sprintf(format, args...)})
	}
	if v, ok := values[memberID]; !ok {
		bad(memberID, codeInvalidUserID, models.ErrInvalidUserID, "missing %s", memberID)
	} else if models.ValidateUserID(v) != nil {
		bad(memberID, codeInvalidUserID, models.ErrInvalidUserID, "%s: %v", memberID, models.ErrInvalidUserID)
	} else {
		l.id = v
	}
	if v, ok := values[memberEmail]; !ok {
		bad(memberEmail, codeInvalidEmail, models.ErrInvalidEmail, "missing %s", memberEmail)
	} else if models.ValidateEmail(v) != nil {
		bad(memberEmail, codeInvalidEmail, models.ErrInvalidEmail, "%s: not a valid address", memberEmail)
	} else {
		l.email, l.key = v, models.EmailKey(v)
	}
	pw, hasPassword := values[memberPassword]
	if v, ok := values[memberHash]; ok {
		switch {
		case hasPassword:
			bad(memberHash, codeInvalidBody, nil, "send %s or %s, not both", memberPassword, memberHash)
		case v == "":
			bad(memberHash, codeInvalidPasswordHsh, nil, "%s is empty: leave the member out for an account without a password", memberHash)
		default:
			if err := hash.Check(v); err != nil {
				bad(memberHash, codeInvalidPasswordHsh, nil, "%s: not a well-formed hash of a supported format (argon2id, argon2i, bcrypt, pbkdf2_sha256): %v", memberHash, err)
			} else if err := checkHash(v); err != nil {
				bad(memberHash, codeInvalidPasswordHsh, nil, "%s: %v; reset this account's password instead", memberHash, err)
			} else {
				l.hash = v
			}
		}
	}
	if hasPassword {
		l.password, l.hasPassword = pw, true
	}
	if v, ok := values[memberLocale]; ok {
		locale, err := models.Languages.ParseLocale(v)
		if err != nil {
			bad(memberLocale, codeInvalidLocale, models.ErrUnsupportedLocale, "%s: not a supported language (one of %s, or empty for none)", memberLocale, strings.Join(models.Languages.Tags(), ", "))
		}
		l.locale, l.hasLocale = locale, true
	}
	if v, ok := values[memberChangedAt]; ok {
		t, err := time.Parse(time.RFC3339Nano, v)
		switch {
		case hasPassword:
			bad(memberChangedAt, codeInvalidBody, nil, "%s goes with %s only: a %s sent here is set now", memberChangedAt, memberHash, memberPassword)
		case err != nil:
			bad(memberChangedAt, codeInvalidChangedAt, nil, "%s: not an RFC 3339 time such as 2025-01-02T03:04:05Z", memberChangedAt)
		case t.After(now):
			bad(memberChangedAt, codeInvalidChangedAt, nil, "%s is in the future: it would refuse every session until then", memberChangedAt)
		default:
			// The databases keep microseconds: compare what they keep.
			l.changedAt = t.UTC().Truncate(time.Microsecond)
		}
	}
	if len(ps) > 0 {
		return l, ps
	}
	return l, nil
}

// decodeFlatObject reads b as one JSON object of string values with known,
// distinct member names (known), and nothing after it.
func decodeFlatObject(b []byte, known []string) (map[string]string, error) {
	if !utf8.Valid(b) {
		return nil, bodyProblem("not valid UTF-8")
	}
	if models.HasLoneSurrogate(b) {
		return nil, bodyProblem(`an unpaired surrogate escape (\uD800–\uDFFF alone), which would change the text`)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	malformed := func(err error) error {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return bodyProblem(fmt.Sprintf("malformed JSON at byte %d", se.Offset))
		}
		return bodyProblem("malformed JSON: the object is not complete")
	}
	tok, err := dec.Token()
	if err != nil {
		return nil, malformed(err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, bodyProblem("not a JSON object")
	}
	values := make(map[string]string, len(known))
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, malformed(err)
		}
		name, _ := tok.(string) // object keys are always strings
		if !slices.Contains(known, name) {
			return nil, bodyProblem(fmt.Sprintf("unknown member %s (known: %s)", quoteName(name), strings.Join(known, ", ")))
		}
		if _, dup := values[name]; dup {
			return nil, bodyProblem(fmt.Sprintf("member %s appears twice", name))
		}
		tok, err = dec.Token()
		if err != nil {
			return nil, malformed(err)
		}
		v, ok := tok.(string)
		if !ok {
			return nil, bodyProblem(fmt.Sprintf("%s must be a string", name))
		}
		values[name] = v
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return nil, malformed(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, bodyProblem("data after the object")
	}
	return values, nil
}

// quoteName quotes an unknown member name when it looks like a misspelt
// one; anything else (it could be an address or a hash put in the wrong
// place) is not repeated.
func quoteName(name string) string {
	if len(name) == 0 || len(name) > 32 {
		return "(not shown)"
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return "(not shown)"
		}
	}
	return fmt.Sprintf("%q", name)
}
