package sessions

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/accountpw/accountpw/models"
	"github.com/accountpw/accountpw/services/config"
	"github.com/accountpw/accountpw/services/store/storetest"
)

// The sub claim is an account id, matched exactly: an application's own ids
// (with ':', '@', '.') work, another case does not, and a sub that cannot be
// an id is refused before the database is asked. The database is closed
// for the second half, so a query would answer unavailable, not
// unauthenticated.
func TestSubIsAnAccountID(t *testing.T) {
	db := storetest.SQLite(t)
	now := time.Now().UTC().Truncate(time.Second)
	for _, id := range []string{"acme:42", "ann@realm.example", "01HZX3J5K8Q9R2T4V6W8Y0A1B3"} {
		mustAccount(t, db, id, now.Add(-time.Hour))
	}
	s, err := New(context.Background(), db, config.Auth{}, secret, func() time.Time { return now }, discard)
	if err != nil {
		t.Fatal(err)
	}
	bearer := func(sub any) string {
		return mustSign(t, jwt.SigningMethodHS256, secret, jwt.MapClaims{"sub": sub, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}, "")
	}
	for _, tc := range []struct {
		name, sub string
		want      error
	}{
		{"tenant and number", "acme:42", nil},
		{"address-like id", "ann@realm.example", nil},
		{"ULID", "01HZX3J5K8Q9R2T4V6W8Y0A1B3", nil},
		{"another case", "ACME:42", models.ErrUnauthenticated},
		{"a valid id of nobody", "acme:43", models.ErrUnauthenticated},
	} {
		got, err := s.Authenticate(context.Background(), bearer(tc.sub))
		if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
			t.Errorf("%s: got %v, want %v", tc.name, err, tc.want)
		}
		if err == nil && got.UserID != tc.sub {
			t.Errorf("%s: session of %q, want %q", tc.name, got.UserID, tc.sub)
		}
	}

	db.Close()
	for _, tc := range []struct {
		name string
		sub  any
	}{
		{"empty", ""},
		{"a space", "acme 42"},
		{"a slash", "acme/42"},
		{"a trailing newline", "acme:42\n"},
		{"129 characters", strings.Repeat("a", 129)},
		{"a number, not a string", 42},
	} {
		if _, err := s.Authenticate(context.Background(), bearer(tc.sub)); !errors.Is(err, models.ErrUnauthenticated) {
			t.Errorf("%s: got %v, want ErrUnauthenticated without a query", tc.name, err)
		}
	}
	// The same database answers unavailable to a sub that could be an id:
	// the rows above were refused before it was asked.
	if _, err := s.Authenticate(context.Background(), bearer("acme:42")); !errors.Is(err, models.ErrUnavailable) {
		t.Errorf("a well-formed sub on a closed database: got %v, want ErrUnavailable", err)
	}
}
