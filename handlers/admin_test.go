package handlers

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/accountpw/accountpw/models"
)

// Without a key, or with a wrong one, every admin route is a 401 with the
// admin realm's challenge and no service call; each configured key gets
// through. Every call is logged as a security event under the key's id,
// never the key.
func TestAdminAuth(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logs, nil))
	for _, tc := range []struct {
		name, auth, challenge string
	}{
		{"no key", "", `Bearer realm="accountpw-admin"`},
		{"a wrong key", "Bearer " + strings.Repeat("x", 32), `Bearer realm="accountpw-admin", error="invalid_token"`},
		{"a configured key's prefix", "Bearer " + testAdminKey[:31], `Bearer realm="accountpw-admin", error="invalid_token"`},
		{"another scheme", "Basic " + testAdminKey, `Bearer realm="accountpw-admin"`},
		{"two keys", "Bearer " + testAdminKey + " " + otherAdminKey, `Bearer realm="accountpw-admin", error="invalid_token"`},
	} {
		for _, r := range []*http.Request{
			admin(http.MethodGet, "/admin/v1/accounts/a", "", "", ""),
			admin(http.MethodPost, "/admin/v1/password/verify", "", "application/json", `{"id":"a","password":"p"}`),
			admin(http.MethodPost, "/admin/v1/accounts/import", "", "application/x-ndjson", `{"id":"a","email":"a@example.org"}`),
		} {
			if tc.auth != "" {
				r.Header.Set("Authorization", tc.auth)
			}
			f := newFakeAdmin()
			rec := serveAdmin(f, AdminOptions{Logger: log}, r)
			mustProblem(t, rec, http.StatusUnauthorized, "unauthenticated")
			if got := rec.Header().Get("WWW-Authenticate"); got != tc.challenge {
				t.Errorf("%s: got WWW-Authenticate %q, want %q", tc.name, got, tc.challenge)
			}
			if m := f.methods(); m != "" {
				t.Errorf("%s: a refused request reached the service: %s", tc.name, m)
			}
		}
	}
	for _, key := range []string{testAdminKey, otherAdminKey} {
		rec := serveAdmin(newFakeAdmin(), AdminOptions{Logger: log}, admin(http.MethodGet, "/admin/v1/accounts/a", key, "", ""))
		if rec.Code != http.StatusOK {
			t.Fatalf("a configured key: got %d %s", rec.Code, rec.Body)
		}
	}
	out := logs.String()
	for _, key := range []string{testAdminKey, otherAdminKey, strings.Repeat("x", 32)} {
		if strings.Contains(out, key) {
			t.Fatal("a key reached the log")
		}
	}
	for _, want := range []string{`"event":"admin_call","key_id":"` + AdminKeyID(testAdminKey) + `","status":200`,
		`"key_id":"` + AdminKeyID(otherAdminKey) + `"`, `"event":"admin_refused","reason":"no_key"`,
		`"event":"admin_refused","reason":"wrong_key"`, `"route":"/admin/v1/accounts/:id"`, `"user_id":"a"`} {
		if !strings.Contains(out, want) {
			t.Errorf("the log lacks %s:\n%s", want, out)
		}
	}
	if id := AdminKeyID(testAdminKey); len(id) != 12 || id == AdminKeyID(otherAdminKey) {
		t.Errorf("key ids %q and %q", id, AdminKeyID(otherAdminKey))
	}
}

// NewAdmin refuses to build without keys or with a short one: configuration
// refuses both first, so this only guards a caller that skipped it.
func TestNewAdminRefusesWeakKeys(t *testing.T) {
	t.Parallel()
	for _, keys := range [][]string{nil, {strings.Repeat("k", 31)}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%d keys: no panic", len(keys))
				}
			}()
			NewAdmin(newFakeAdmin(), AdminOptions{Keys: keys})
		}()
	}
}

// Each admin route makes its one service call with what the request said
// (the id percent-decoded, the body as sent) and answers as documented.
func TestAdminRoutes(t *testing.T) {
	t.Parallel()
	const json = "application/json"
	for _, tc := range []struct {
		name   string
		req    *http.Request
		status int
		call   string
		args   []string
		body   string // a part of the answer
	}{
		{"get", admin("GET", "/admin/v1/accounts/shop%3A1", testAdminKey, "", ""), 200, "Account", []string{"shop:1"}, `"id":"shop:1"`},
		{"head", admin("HEAD", "/admin/v1/accounts/shop:1", testAdminKey, "", ""), 200, "Account", []string{"shop:1"}, ""},
		{"create", admin("PUT", "/admin/v1/accounts/shop:1", testAdminKey, json, `{"email":"a@example.org","password":"p"}`), 201, "PutAccount", []string{"shop:1"}, `"hash_format":"argon2id"`},
		{"delete", admin("DELETE", "/admin/v1/accounts/shop:1", testAdminKey, "", ""), 204, "DeleteUser", []string{"shop:1"}, ""},
		{"a page", admin("GET", "/admin/v1/accounts?after=a0&limit=2", testAdminKey, "", ""), 200, "Accounts", []string{"a0", "2"}, `"next_after":"a2"`},
		{"the first page", admin("GET", "/admin/v1/accounts", testAdminKey, "", ""), 200, "Accounts", []string{"", "0"}, `"accounts":[`},
		{"by address", admin("GET", "/admin/v1/accounts?email=ann%2Bx%40example.org", testAdminKey, "", ""), 200, "AccountByEmail", []string{"ann+x@example.org"}, `"accounts":[{"id":"found"`},
		{"import", admin("POST", "/admin/v1/accounts/import", testAdminKey, "application/x-ndjson", "{\"id\":\"a\"}\n{}\n"), 200, "ImportAccounts", []string{"false"}, `"summary":{"imported":1,"updated":0,"unchanged":0,"errors":1}`},
		{"a dry import", admin("POST", "/admin/v1/accounts/import?dry_run=true", testAdminKey, "application/x-ndjson", "{}\n"), 200, "ImportAccounts", []string{"true"}, `"code":"invalid_email"`},
		{"a reset email", admin("POST", "/admin/v1/accounts/shop:1/password-reset", testAdminKey, "", ""), 202, "EmailReset", []string{"shop:1"}, `{"status":"queued"}`},
		{"a reset email, asked for", admin("POST", "/admin/v1/accounts/shop:1/password-reset", testAdminKey, json, `{"deliver":"email"}`), 202, "EmailReset", []string{"shop:1"}, `queued`},
		{"a reset link", admin("POST", "/admin/v1/accounts/shop:1/password-reset", testAdminKey, json, `{"deliver":"return"}`), 200, "ResetLink", []string{"shop:1"}, `"link":"https://app.example.org/password-reset?token=t"`},
		{"a sign-in by address", admin("POST", "/admin/v1/password/verify", testAdminKey, json, `{"email":"a@example.org","password":"p","client_ip":"203.0.113.7"}`), 200, "SignIn", []string{"", "a@example.org"}, `{"valid":true,"id":"shop:1"`},
		{"a sign-in by id", admin("POST", "/admin/v1/password/verify", testAdminKey, json, `{"password":"p","id":"shop:1"}`), 200, "SignIn", []string{"shop:1", ""}, `"valid":true`},
	} {
		f := newFakeAdmin()
		rec := serveAdmin(f, AdminOptions{}, tc.req)
		if rec.Code != tc.status || !strings.Contains(rec.Body.String(), tc.body) {
			t.Errorf("%s: got %d %s, want %d with %s", tc.name, rec.Code, rec.Body, tc.status, tc.body)
			continue
		}
		if c := f.last(t); c.method != tc.call || strings.Join(c.args, "|") != strings.Join(tc.args, "|") {
			t.Errorf("%s: got %s%q, want %s%q", tc.name, c.method, c.args, tc.call, tc.args)
		}
		mustBaseHeaders(t, rec)
		if tc.req.Method == "HEAD" && rec.Body.Len() != 0 {
			t.Errorf("%s: HEAD answered a body", tc.name)
		}
	}
}

// A path id is percent-decoded once, whether Echo matched the escaped or
// the decoded path: shop%3A1 is the account shop:1, shop%253A1 is the id
// shop%3A1 (which the service refuses), never shop:1.
func TestAdminPathIDDecodedOnce(t *testing.T) {
	t.Parallel()
	for target, want := range map[string]string{
		"/admin/v1/accounts/shop%3A1":   "shop:1",
		"/admin/v1/accounts/shop:1":     "shop:1",
		"/admin/v1/accounts/shop%253A1": "shop%3A1",
		"/admin/v1/accounts/a%2540b":    "a%40b",
	} {
		f := newFakeAdmin()
		f.errs["DeleteUser"] = &models.Error{Kind: models.KindInvalid, Code: "invalid_user_id", Field: "id", Message: "m"}
		serveAdmin(f, AdminOptions{}, admin("DELETE", target, testAdminKey, "", ""))
		if got := f.last(t).args; len(got) != 1 || got[0] != want {
			t.Errorf("%s: the service got %q, want %q", target, got, want)
		}
	}
}

// A PUT's raw body reaches the service as sent; a created account is
// located; an update that left the hash out says so in a note.
func TestAdminPutAccount(t *testing.T) {
	t.Parallel()
	f := newFakeAdmin()
	body := `{"email":"a@example.org","password_hash":"$2b$12$x"}`
	rec := serveAdmin(f, AdminOptions{}, admin("PUT", "/admin/v1/accounts/shop%3A1", testAdminKey, "application/json", body))
	if rec.Code != 201 || rec.Header().Get("Location") != "/admin/v1/accounts/shop:1" || f.bodies[0] != body {
		t.Fatalf("create: got %d, Location %q, body given %q", rec.Code, rec.Header().Get("Location"), f.bodies)
	}
	f = newFakeAdmin()
	f.put.Created, f.put.NoteCode, f.put.Note = false, "password_hash_not_taken", "password_hash not taken"
	rec = serveAdmin(f, AdminOptions{}, admin("PUT", "/admin/v1/accounts/shop:1", testAdminKey, "application/json", body))
	var got map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || rec.Code != 200 || rec.Header().Get("Location") != "" {
		t.Fatalf("update: got %d %s", rec.Code, rec.Body)
	}
	if note, _ := got["note"].(map[string]any); note["code"] != "password_hash_not_taken" || got["id"] != "shop:1" {
		t.Fatalf("update: got %v, want the account and its note", got)
	}
}

// Every way an admin request can be wrong has its status and stable code,
// and none reaches the service (but those the service itself answers).
func TestAdminProblems(t *testing.T) {
	t.Parallel()
	const json = "application/json"
	lines := strings.Repeat("{}\n", maxImportLines+1)
	for _, tc := range []struct {
		name    string
		req     *http.Request
		errs    map[string]error
		status  int
		code    string
		reached bool
	}{
		{"an unknown account", admin("GET", "/admin/v1/accounts/x", testAdminKey, "", ""), map[string]error{"Account": &models.Error{Kind: models.KindNotFound, Code: "account_not_found", Message: "m"}}, 404, "account_not_found", true},
		{"an address taken", admin("PUT", "/admin/v1/accounts/x", testAdminKey, json, `{}`), map[string]error{"PutAccount": &models.Error{Kind: models.KindConflict, Code: "email_taken", Field: "email", Message: "m"}}, 409, "email_taken", true},
		{"a weak password", admin("PUT", "/admin/v1/accounts/x", testAdminKey, json, `{}`), map[string]error{"PutAccount": models.ErrPasswordTooShort}, 422, "password_too_short", true},
		{"a bad id", admin("DELETE", "/admin/v1/accounts/a%20b", testAdminKey, "", ""), map[string]error{"DeleteUser": &models.Error{Kind: models.KindInvalid, Code: "invalid_user_id", Field: "id", Message: "m"}}, 400, "invalid_user_id", true},
		{"over the quota", admin("POST", "/admin/v1/accounts/x/password-reset", testAdminKey, "", ""), map[string]error{"EmailReset": models.RateLimited(time.Minute)}, 429, "rate_limited", true},
		{"a throttled sign-in", admin("POST", "/admin/v1/password/verify", testAdminKey, json, `{"id":"a","password":"p"}`), map[string]error{"SignIn": models.RateLimited(time.Minute)}, 429, "rate_limited", true},
		{"no slot", admin("POST", "/admin/v1/password/verify", testAdminKey, json, `{"id":"a","password":"p"}`), map[string]error{"SignIn": models.ErrHashBusy}, 503, "busy", true},
		{"a server fault", admin("GET", "/admin/v1/accounts", testAdminKey, "", ""), map[string]error{"Accounts": errors.New("the database is on fire")}, 500, "internal", true},
		{"a query on a PUT", admin("PUT", "/admin/v1/accounts/x?email=a", testAdminKey, json, `{}`), nil, 400, "query_not_allowed", false},
		{"a query on a sign-in", admin("POST", "/admin/v1/password/verify?password=p", testAdminKey, json, `{"id":"a","password":"p"}`), nil, 400, "query_not_allowed", false},
		{"an unknown list parameter", admin("GET", "/admin/v1/accounts?page=2", testAdminKey, "", ""), nil, 400, "invalid_query", false},
		{"a parameter twice", admin("GET", "/admin/v1/accounts?limit=1&limit=2", testAdminKey, "", ""), nil, 400, "invalid_query", false},
		{"email with a cursor", admin("GET", "/admin/v1/accounts?email=a@example.org&after=a", testAdminKey, "", ""), nil, 400, "invalid_query", false},
		{"a limit that is no number", admin("GET", "/admin/v1/accounts?limit=ten", testAdminKey, "", ""), nil, 400, "invalid_query", false},
		{"a dry_run that is no boolean", admin("POST", "/admin/v1/accounts/import?dry_run=yes", testAdminKey, "application/x-ndjson", "{}\n"), nil, 400, "invalid_query", false},
		{"a PUT of text", admin("PUT", "/admin/v1/accounts/x", testAdminKey, "text/plain", `{}`), nil, 415, "unsupported_media_type", false},
		{"a PUT too large", admin("PUT", "/admin/v1/accounts/x", testAdminKey, json, `{"email":"`+strings.Repeat("a", maxAccountBody)+`"}`), nil, 413, "body_too_large", false},
		{"an import of JSON", admin("POST", "/admin/v1/accounts/import", testAdminKey, json, "{}\n"), nil, 415, "unsupported_media_type", false},
		{"an import of too many lines", admin("POST", "/admin/v1/accounts/import", testAdminKey, "application/x-ndjson", lines), nil, 413, "too_many_lines", false},
		{"an import too large", admin("POST", "/admin/v1/accounts/import", testAdminKey, "application/x-ndjson", strings.Repeat("x", maxImportBody+1)), nil, 413, "body_too_large", false},
		{"a sign-in by id and address", admin("POST", "/admin/v1/password/verify", testAdminKey, json, `{"id":"a","email":"a@example.org","password":"p"}`), nil, 400, "invalid_body", false},
		{"a sign-in without a password", admin("POST", "/admin/v1/password/verify", testAdminKey, json, `{"id":"a"}`), nil, 400, "invalid_body", false},
		{"a sign-in of nobody", admin("POST", "/admin/v1/password/verify", testAdminKey, json, `{"password":"p"}`), nil, 400, "invalid_body", false},
		{"a sign-in with an empty password", admin("POST", "/admin/v1/password/verify", testAdminKey, json, `{"id":"a","password":""}`), nil, 400, "invalid_body", false},
		{"a sign-in with a member twice", admin("POST", "/admin/v1/password/verify", testAdminKey, json, `{"id":"a","password":"p","password":"q"}`), nil, 400, "invalid_body", false},
		{"a sign-in with a number", admin("POST", "/admin/v1/password/verify", testAdminKey, json, `{"id":"a","password":1}`), nil, 400, "invalid_body", false},
		{"a reset by fax", admin("POST", "/admin/v1/accounts/x/password-reset", testAdminKey, json, `{"deliver":"fax"}`), nil, 400, "invalid_body", false},
		{"a reset of text", admin("POST", "/admin/v1/accounts/x/password-reset", testAdminKey, "text/plain", `deliver=return`), nil, 415, "unsupported_media_type", false},
		{"a POST to an account", admin("POST", "/admin/v1/accounts/x", testAdminKey, json, `{}`), nil, 405, "method_not_allowed", false},
		{"an unknown path", admin("GET", "/admin/v1/users", testAdminKey, "", ""), nil, 404, "not_found", false},
	} {
		f := newFakeAdmin()
		for k, v := range tc.errs {
			f.errs[k] = v
		}
		rec := serveAdmin(f, AdminOptions{}, tc.req)
		mustProblem(t, rec, tc.status, tc.code)
		if reached := f.methods() != ""; reached != tc.reached {
			t.Errorf("%s: the service was called %v, want %v (%s)", tc.name, reached, tc.reached, f.methods())
		}
	}
	rec := serveAdmin(newFakeAdmin(), AdminOptions{}, admin("POST", "/admin/v1/accounts/x", testAdminKey, "application/json", `{}`))
	if got := rec.Header().Get("Allow"); got != "PUT, GET, HEAD, DELETE" {
		t.Errorf("Allow %q", got)
	}
}

// The public listener knows nothing of the admin API: every admin path is a
// 404 there, with a key or without.
func TestPublicListenerHasNoAdmin(t *testing.T) {
	t.Parallel()
	for _, r := range []*http.Request{
		admin("GET", "/admin/v1/accounts", testAdminKey, "", ""),
		admin("GET", "/admin/v1/accounts/a", testAdminKey, "", ""),
		admin("PUT", "/admin/v1/accounts/a", testAdminKey, "application/json", `{"email":"a@example.org"}`),
		admin("POST", "/admin/v1/password/verify", "", "application/json", `{"id":"a","password":"p"}`),
		admin("GET", "/admin/", "", "", ""),
	} {
		rec := httptest.NewRecorder()
		New(newFake(), Options{Logger: discardLogger}).ServeHTTP(rec, r)
		mustProblem(t, rec, http.StatusNotFound, "not_found")
	}
}

// The observer hears each admin request's operation and status.
func TestAdminObserver(t *testing.T) {
	t.Parallel()
	obs := &adminHeard{}
	f := newFakeAdmin()
	serveAdmin(f, AdminOptions{Observer: obs}, admin("GET", "/admin/v1/accounts/a", testAdminKey, "", ""))
	serveAdmin(f, AdminOptions{Observer: obs}, admin("POST", "/admin/v1/password/verify", "", "application/json", `{}`))
	serveAdmin(f, AdminOptions{Observer: obs}, admin("PATCH", "/admin/v1/accounts/a", testAdminKey, "", ""))
	serveAdmin(f, AdminOptions{Observer: obs}, admin("POST", "/admin/v1/accounts/import", testAdminKey, "application/x-ndjson", "{}\n"))
	if got, want := strings.Join(obs.heard, " "), "get_account:200 verify_password:401 other:405 import_accounts:200"; got != want {
		t.Errorf("heard %q, want %q", got, want)
	}
}

type adminHeard struct{ heard []string }

func (a *adminHeard) ObserveAdminRequest(op string, status int, _ time.Duration) {
	a.heard = append(a.heard, op+":"+itoa(status))
}

// Every admin route is in openapi.yaml.
func TestOpenAPIContractCoversTheAdminRoutes(t *testing.T) {
	t.Parallel()
	for _, r := range NewAdmin(newFakeAdmin(), AdminOptions{Keys: []string{testAdminKey}}).Routes() {
		req := httptest.NewRequest(r.Method, strings.ReplaceAll(r.Path, ":id", "x"), nil)
		if _, _, err := contract.router.FindRoute(req); err != nil {
			t.Errorf("route %s %s is not in %s: %v", r.Method, r.Path, specPath, err)
		}
	}
}
