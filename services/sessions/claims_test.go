package sessions

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/accountpw/accountpw/models"
	"github.com/accountpw/accountpw/services/config"
)

// FuzzClaims feeds arbitrary payloads, correctly signed, through the
// verification that needs no database. Whatever it accepts must be a JSON
// object whose exp and iat are numbers (never strings), whose nbf, if any,
// is a number, whose sub is an account id, with no member twice,
// with exp not passed and iat at most iatAhead ahead; nothing may panic.
func FuzzClaims(f *testing.F) {
	now := time.Unix(1_800_000_000, 0)
	for _, seed := range []string{
		`{"sub":"u1","iat":1800000000,"exp":1800003600}`,
		`{"sub":"u1","iat":"1800000000","exp":1800003600}`,
		`{"sub":"u1","sub":"u2","iat":1800000000,"exp":1800003600}`,
		`{"sub":"u1\u0000","iat":1800000000,"exp":1800003600}`,
		`{"sub":"u1","iat":1800000000.5,"exp":1.8000036e9,"nbf":1799999999,"aud":["a"],"iss":"x"}`,
		`{"sub":42,"iat":1800000000,"exp":1800003600}`,
		`{"sub":"u1","iat":null,"exp":1800003600}`,
		`{"sub":"u1","iat":1800000000,"exp":1800003600} trailing`,
		`[]`, `null`, `{}`, ``,
	} {
		f.Add(seed)
	}
	s, err := New(context.Background(), nil, config.Auth{}, secret, func() time.Time { return now }, discard)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, payload string) {
		c, err := s.verify(context.Background(), signRaw(hs256Header, payload, secret))
		if err != nil {
			if !errors.Is(err, errRefused) {
				t.Fatalf("got %v, want errRefused or nil", err)
			}
			return
		}
		if !json.Valid([]byte(payload)) {
			t.Fatalf("accepted invalid JSON %q", payload)
		}
		if dup, ok := duplicateMember([]byte(payload)); ok {
			t.Fatalf("accepted %q with member %q twice", payload, dup)
		}
		var m map[string]any
		dec := json.NewDecoder(bytes.NewReader([]byte(payload)))
		dec.UseNumber()
		if err := dec.Decode(&m); err != nil {
			t.Fatalf("accepted %q, not an object: %v", payload, err)
		}
		for _, name := range []string{"exp", "iat", "nbf"} {
			v, present := m[name]
			if _, isNumber := v.(json.Number); (present || name != "nbf") && !isNumber {
				t.Fatalf("accepted %q with %s = %#v", payload, name, v)
			}
		}
		if sub, _ := m["sub"].(string); sub != c.Subject || models.ValidateUserID(sub) != nil {
			t.Fatalf("accepted %q with sub %q", payload, c.Subject)
		}
		if !c.ExpiresAt.After(now.Add(-leeway)) {
			t.Fatalf("accepted %q, expired at %v", payload, c.ExpiresAt)
		}
		if c.IssuedAt.After(now.Add(iatAhead)) {
			t.Fatalf("accepted %q, issued at %v, ahead of %v", payload, c.IssuedAt, now)
		}
	})
}

// duplicateMember finds a top-level member named twice, independently of
// the claims decoder.
func duplicateMember(b []byte) (string, bool) {
	dec := json.NewDecoder(bytes.NewReader(b))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return "", false
	}
	seen := map[string]bool{}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return "", false
		}
		k, _ := t.(string)
		if seen[k] {
			return k, true
		}
		seen[k] = true
		var skip json.RawMessage
		if dec.Decode(&skip) != nil {
			return "", false
		}
	}
	return "", false
}
