package models

import (
	"errors"
	"strings"
	"testing"
)

func TestValidateUserID(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, id string
		valid    bool
	}{
		{"a number", "42", true},
		{"a UUID", "6f1c2a8e-3b4d-4e5f-8a9b-0c1d2e3f4a5b", true},
		{"a ULID", "01HZX3J5K8Q9R2T4V6W8Y0A1B3", true},
		{"tenant and number", "acme:42", true},
		{"address-like", "ann@realm.example", true},
		{"every allowed character", "Az09._:@-", true},
		{"one character", "x", true},
		{"128 characters", strings.Repeat("a", 128), true},
		{"empty", "", false},
		{"129 characters", strings.Repeat("a", 129), false},
		{"space", "a b", false},
		{"slash", "a/b", false},
		{"percent", "a%20b", false},
		{"quote", `a"b`, false},
		{"plus", "a+b", false},
		{"trailing newline", "42\n", false},
		{"NUL", "4\x002", false},
		{"non-ASCII letter", "ä", false},
		{"fullwidth digit", "４２", false},
	} {
		err := ValidateUserID(tc.id)
		if got := err == nil; got != tc.valid {
			t.Errorf("%s: got %v, want valid %v", tc.name, err, tc.valid)
		}
		if err != nil && !errors.Is(err, ErrInvalidUserID) {
			t.Errorf("%s: got %v, want ErrInvalidUserID", tc.name, err)
		}
	}
}
