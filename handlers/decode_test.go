package handlers

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode/utf8"
)

// invalidBodies are bodies that must answer 400 invalid_body without any
// business call. They also seed FuzzDecodeJSON.
var invalidBodies = []struct{ name, body string }{
	{"malformed JSON", `{"email":`},
	{"empty object", `{}`},
	{"array", `[]`},
	{"string", `"str"`},
	{"null", `null`},
	{"empty body", ``},
	{"only whitespace", " \n\t"},
	{"token alone", `{"token":"t0k"}`},
	{"old alone", `{"old":"old-password-123456"}`},
	{"new alone", `{"new":"new-password-123456"}`},
	{"email and token", `{"email":"a@b.co","token":"t0k"}`},
	{"token, new and old", `{"token":"t0k","new":"n3w-password","old":"0ld-password"}`},
	{"email and new", `{"email":"a@b.co","new":"n3w-password"}`},
	{"unknown member", `{"email":"a@b.co","admin":true}`},
	{"unknown string member", `{"token":"t0k","new":"n3w-password","user_id":"1"}`},
	{"duplicate member", `{"email":"a@x.io","email":"b@y.io"}`},
	{"duplicate old", `{"old":"first-password","old":"x","new":"n3w-password"}`},
	{"case-variant email", `{"Email":"a@b.co"}`},
	{"case-variant token", `{"TOKEN":"t0k","new":"n3w-password"}`},
	{"case-variant new", `{"old":"0ld-password","NEW":"n3w-password"}`},
	{"value null", `{"email":null}`},
	{"value number", `{"token":123,"new":"n3w-password"}`},
	{"value bool", `{"email":true}`},
	{"value array", `{"email":["a@b.co"]}`},
	{"value object", `{"email":{"a":"b"}}`},
	{"value empty string", `{"old":"","new":"n3w-password"}`},
	{"second object", `{"email":"a@x.io"}{"email":"b@x.io"}`},
	{"trailing garbage", `{"email":"a@x.io"} garbage`},
	{"trailing comma", `{"email":"a@x.io",}`},
	{"raw 0xFF byte", "{\"token\":\"t0k\",\"new\":\"pass\xffword-long-enough\"}"},
	{"lone high surrogate", `{"token":"t0k","new":"\ud800abc-long-enough"}`},
	{"lone low surrogate", `{"token":"t0k","new":"abc\udc00-long-enough"}`},
	{"reversed surrogate pair", `{"token":"t0k","new":"\udc00\ud800-long-enough"}`},
	{"high surrogate then letter escape", `{"token":"t0k","new":"\ud83d\u0041-long-enough"}`},
	{"surrogate in a member name", `{"email\udfff":"a@b.co"}`},
	{"raw surrogate bytes", "{\"email\":\"\xed\xa0\x80@b.co\"}"},
}

func TestInvalidBodies(t *testing.T) {
	for _, tt := range invalidBodies {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake()
			rec := serve(f, Options{}, put(tt.body))
			mustProblem(t, rec, http.StatusBadRequest, "invalid_body")
			mustBaseHeaders(t, rec)
			if got := f.methods(); got != "Admit" {
				t.Errorf("got calls %q, want only Admit", got)
			}
			for _, leak := range []string{"json", "offset", "invalid character", "unexpected"} {
				if strings.Contains(rec.Body.String(), leak) {
					t.Errorf("body leaks decoder text %q: %s", leak, rec.Body)
				}
			}
		})
	}
}

func TestQueryStringRefused(t *testing.T) {
	for _, target := range []string{"?foo=1", "?token=canary-in-query", "?", "?email=x@y.z"} {
		t.Run(target, func(t *testing.T) {
			f := newFake()
			r := httptest.NewRequest(http.MethodPut, passwordPath+target, strings.NewReader(emailBody))
			r.Header.Set("Content-Type", "application/json")
			rec := serve(f, Options{}, r)
			mustProblem(t, rec, http.StatusBadRequest, "query_not_allowed")
			mustBaseHeaders(t, rec)
			if got := f.methods(); got != "Admit" {
				t.Errorf("got calls %q, want only Admit (every request to the resource counts)", got)
			}
		})
	}
}

func TestDecodeJSONAccepts(t *testing.T) {
	tests := []struct {
		name, body string
		want       passwordBody
	}{
		{"email", `{"email":"a@b.co"}`, passwordBody{set: hasEmail, email: "a@b.co"}},
		{"token and new, reordered, spaced", " {\n\"new\" : \"n\", \"token\":\"t\"}\r\n",
			passwordBody{set: hasToken | hasNew, token: "t", newPassword: "n"}},
		{"old and new", `{"old":"o","new":"n"}`, passwordBody{set: hasOld | hasNew, oldPassword: "o", newPassword: "n"}},
		{"surrogate pair escape", `{"old":"\ud83d\ude00","new":"\u00e9\\ud800"}`,
			passwordBody{set: hasOld | hasNew, oldPassword: "😀", newPassword: `é\ud800`}},
		{"escaped quote and backslash", `{"email":"a\"\\b"}`, passwordBody{set: hasEmail, email: `a"\b`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodeJSON([]byte(tt.body))
			if err != nil || got != tt.want {
				t.Errorf("got %+v, %v; want %+v, nil", got, err, tt.want)
			}
		})
	}
}

func FuzzDecodeJSON(f *testing.F) {
	for _, tt := range invalidBodies {
		f.Add([]byte(tt.body))
	}
	for _, b := range []string{emailBody, tokenBody, changeBody, `{"old":"\ud83d\ude00","new":"\\u"}`} {
		f.Add([]byte(b))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		b, err := decodeJSON(body)
		if err != nil {
			return
		}
		if !utf8.Valid(body) {
			t.Fatalf("accepted invalid UTF-8 %q", body)
		}
		// U+FFFD in a value must come from the body, never from a silent replacement.
		sentFFFD := bytes.ContainsRune(body, utf8.RuneError) || bytes.Contains(bytes.ToLower(body), []byte(`\ufffd`))
		if b.set&^(hasEmail|hasToken|hasNew|hasOld) != 0 {
			t.Fatalf("accepted member set %b", b.set)
		}
		for m, v := range map[members]string{hasEmail: b.email, hasToken: b.token, hasNew: b.newPassword, hasOld: b.oldPassword} {
			if b.set&m != 0 && (v == "" || !utf8.ValidString(v) || !sentFFFD && strings.ContainsRune(v, utf8.RuneError)) {
				t.Fatalf("accepted member %b with value %q", m, v)
			}
			if b.set&m == 0 && v != "" {
				t.Fatalf("member %b absent but value %q set", m, v)
			}
		}
	})
}
