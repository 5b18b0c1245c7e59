package models

import "testing"

func TestCheckOrigin(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		origin string
		ok     bool
	}{
		{"https://app.example.com", true},
		{"http://localhost:3000", true},
		{"ftp://a.example", false},
		{"https://app.example.com/", false},
		{"https://*.example.com", false},
		{"null", false},
		{"*", false},
		{"https://user@app.example.com", false},
		{"app.example.com", false},
	} {
		if err := CheckOrigin(tc.origin); (err == nil) != tc.ok {
			t.Errorf("%q: got %v, want ok=%v", tc.origin, err, tc.ok)
		}
	}
}

func TestCheckRedirectTarget(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		target string
		ok     bool
	}{
		{"/password-reset/request", true},
		{"https://app.example.com/account/password", true},
		{"//evil.example", false},
		{`/a\b`, false},
		{`https://app.example.com\@evil.example`, false},
		{"javascript:alert(1)", false},
		{"relative/path", false},
		{"/with space", false},
		{"/line\r\nbreak", false},
	} {
		if err := CheckRedirectTarget(tc.target); (err == nil) != tc.ok {
			t.Errorf("%q: got %v, want ok=%v", tc.target, err, tc.ok)
		}
	}
}

func TestCheckServiceURL(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		url        string
		allowQuery bool
		ok         bool
	}{
		{"https://app.example.org/password-reset", false, true},
		{"http://localhost:8080/password-reset", false, true},
		{"http://127.0.0.1:9/x", false, true},
		{"http://[::1]:9/x", false, true},
		{"http://app.example.org/password-reset", false, false},
		{"https://app.example.org/password-reset?x=1", false, false},
		{"https://keys.example.org/jwks?x=1", true, true},
		{"https://user:pw@app.example.org/", false, false},
		{"/password-reset", false, false},
		{"ftp://app.example.org/", false, false},
	} {
		if err := CheckServiceURL(tc.url, tc.allowQuery); (err == nil) != tc.ok {
			t.Errorf("%q: got %v, want ok=%v", tc.url, err, tc.ok)
		}
	}
}
