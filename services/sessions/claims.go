package sessions

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// maxNumericDate bounds exp, iat and nbf (Unix seconds, about the year
// 36812): far beyond any real token, small enough to convert without
// overflow.
const maxNumericDate = 1 << 40

// claims are the registered claims of a bearer token, decoded strictly: the
// JWT library alone accepts "iat":"1700000000" (a string holding a number)
// and takes the last of two members with the same name. Here exp, iat and
// nbf must be JSON numbers, sub, iss a JSON string, aud a string or an array
// of strings, and no member may appear twice; other members are ignored.
type claims struct {
	Subject   string
	Issuer    string
	Audience  jwt.ClaimStrings
	ExpiresAt *jwt.NumericDate
	IssuedAt  *jwt.NumericDate
	NotBefore *jwt.NumericDate
}

// errClaims is every way a payload can fail to decode.
var errClaims = errors.New("malformed claims")

// UnmarshalJSON decodes one JSON object of claims; see claims.
func (c *claims) UnmarshalJSON(b []byte) error {
	*c = claims{}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return fmt.Errorf("%w: not an object", errClaims)
	}
	seen := map[string]bool{}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return fmt.Errorf("%w: %w", errClaims, err)
		}
		name, _ := t.(string) // object keys are always strings
		if seen[name] {
			return fmt.Errorf("%w: member %q twice", errClaims, name)
		}
		seen[name] = true
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return fmt.Errorf("%w: %w", errClaims, err)
		}
		if err := c.set(name, raw); err != nil {
			return fmt.Errorf("%w: %s: %w", errClaims, name, err)
		}
	}
	if _, err := dec.Token(); err != nil {
		return fmt.Errorf("%w: %w", errClaims, err)
	}
	return nil
}

// set decodes one member.
func (c *claims) set(name string, raw json.RawMessage) error {
	var err error
	switch name {
	case "sub":
		err = jsonString(raw, &c.Subject)
	case "iss":
		err = jsonString(raw, &c.Issuer)
	case "aud":
		if len(raw) == 0 || (raw[0] != '"' && raw[0] != '[') {
			return errors.New("not a string or an array of strings")
		}
		err = json.Unmarshal(raw, &c.Audience)
	case "exp":
		c.ExpiresAt, err = numericDate(raw)
	case "iat":
		c.IssuedAt, err = numericDate(raw)
	case "nbf":
		c.NotBefore, err = numericDate(raw)
	}
	return err
}

func jsonString(raw json.RawMessage, dst *string) error {
	if len(raw) == 0 || raw[0] != '"' {
		return errors.New("not a string")
	}
	return json.Unmarshal(raw, dst)
}

// numericDate decodes a NumericDate (RFC 7519): a JSON number of seconds,
// never a string or null, from 0 to maxNumericDate.
func numericDate(raw json.RawMessage) (*jwt.NumericDate, error) {
	if len(raw) == 0 || (raw[0] != '-' && (raw[0] < '0' || raw[0] > '9')) {
		return nil, errors.New("not a number")
	}
	f, err := strconv.ParseFloat(string(raw), 64)
	if err != nil || math.IsNaN(f) || f < 0 || f > maxNumericDate {
		return nil, errors.New("out of range")
	}
	sec, frac := math.Modf(f)
	return jwt.NewNumericDate(time.Unix(int64(sec), int64(frac*1e9))), nil
}

// The jwt.Claims interface, read by the library's validator.

func (c *claims) GetExpirationTime() (*jwt.NumericDate, error) { return c.ExpiresAt, nil }
func (c *claims) GetIssuedAt() (*jwt.NumericDate, error)       { return c.IssuedAt, nil }
func (c *claims) GetNotBefore() (*jwt.NumericDate, error)      { return c.NotBefore, nil }
func (c *claims) GetIssuer() (string, error)                   { return c.Issuer, nil }
func (c *claims) GetSubject() (string, error)                  { return c.Subject, nil }
func (c *claims) GetAudience() (jwt.ClaimStrings, error)       { return c.Audience, nil }
