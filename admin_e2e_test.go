package main

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// e2eAdminKey is the admin API key of the end-to-end tests.
const e2eAdminKey = "e2e-admin-key-0123456789abcdefghijklmnop"

// startAdmin runs serve with the admin API on and returns the public and
// the admin base URLs.
func startAdmin(t *testing.T, env map[string]string) (public, admin string, logs *logSink) {
	t.Helper()
	env["ACCOUNTPW_ADMIN_ADDR"] = "127.0.0.1:0"
	env["ACCOUNTPW_ADMIN_API_KEYS"] = "old-admin-key-0123456789abcdefghijklmnop," + e2eAdminKey
	public, logs = startServe(t, env)
	select {
	case addr := <-logs.adminListening:
		return public, "http://" + addr, logs
	case <-time.After(10 * time.Second):
		t.Fatalf("no admin listener\n%s", logs)
	}
	return "", "", nil
}

// adminCall makes one admin API request bearing key and decodes a JSON
// answer into out (when not nil); every exchange is checked against
// openapi.yaml by contractClient.
func adminCall(t *testing.T, method, url, key, contentType, body string, out any) *http.Response {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := contractClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %d %s: %v", method, url, resp.StatusCode, b, err)
		}
	}
	return resp
}

func adminJSON(t *testing.T, method, url, body string, out any) *http.Response {
	t.Helper()
	ct := ""
	if body != "" {
		ct = "application/json"
	}
	return adminCall(t, method, url, e2eAdminKey, ct, body, out)
}

// problemCode is the code of a problem answer.
type problemCode struct {
	Code  string `json:"code"`
	Field string `json:"field"`
}

// TestAdminAPIEndToEnd walks the adopting application's integration over
// HTTP, on PostgreSQL and on SQLite, with the real SendGrid client against
// a fake server: keys, signup, sign-in checks, lookups, a move of address
// that ends a pending link, a support reset by email and by returned link,
// an import whose bcrypt account is upgraded at its first sign-in, delete,
// and the problem of each kind of mistake.
func TestAdminAPIEndToEnd(t *testing.T) {
	for _, db := range []string{"postgres", "sqlite"} {
		t.Run(db, func(t *testing.T) {
			const key = "SG.admin-e2e"
			sg := newFakeSendGrid(t, key)
			env := map[string]string{
				"ACCOUNTPW_AUTH_JWT_SECRET": "admin-e2e-secret-0123456789abcdefghij", "ACCOUNTPW_MAIL_PROVIDER": "sendgrid",
				"ACCOUNTPW_MAIL_SENDGRID_API_KEY": key, "ACCOUNTPW_MAIL_SENDGRID_BASE_URL": sg.URL,
				"ACCOUNTPW_RESET_URL":                  "https://app.example.org/password-reset",
				"ACCOUNTPW_PASSWORD_ARGON2_MEMORY_KIB": "19456", "ACCOUNTPW_PASSWORD_ARGON2_TIME": "2",
				"ACCOUNTPW_PASSWORD_ARGON2_THREADS": "1", "ACCOUNTPW_PASSWORD_HASH_WAIT": "5s",
			}
			if db == "postgres" {
				env["ACCOUNTPW_DATABASE_URL"] = mustPostgresURL(t)
			} else {
				env["ACCOUNTPW_DATABASE_PATH"] = t.TempDir() + "/accountpw.db"
			}
			public, admin, logs := startAdmin(t, env)
			const pw, pw2 = "canary-admin velvet orbit copper", "canary-admin quartz meadow tundra"

			// Keys: none, a wrong one, and both configured ones.
			for _, k := range []string{"", strings.Repeat("w", 40)} {
				var p problemCode
				if resp := adminCall(t, "GET", admin+"/admin/v1/accounts", k, "", "", &p); resp.StatusCode != 401 ||
					p.Code != "unauthenticated" || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), `Bearer realm="accountpw-admin"`) {
					t.Fatalf("key %q: got %d %+v", k, resp.StatusCode, p)
				}
			}
			if resp := adminCall(t, "GET", admin+"/admin/v1/accounts", "old-admin-key-0123456789abcdefghijklmnop", "", "", nil); resp.StatusCode != 200 {
				t.Fatalf("the older key: %d", resp.StatusCode)
			}
			// The public listener has no admin API, whatever it is sent (a
			// plain client: the document lists no 404 for these paths, on
			// the listener that serves them).
			req, _ := http.NewRequest("GET", public+"/admin/v1/accounts", nil)
			req.Header.Set("Authorization", "Bearer "+e2eAdminKey)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			var nf problemCode
			if err := json.NewDecoder(resp.Body).Decode(&nf); err != nil || resp.StatusCode != 404 || nf.Code != "not_found" {
				t.Fatalf("the public listener: %d %+v %v", resp.StatusCode, nf, err)
			}
			resp.Body.Close()

			// Signup: the application creates the account with its id and the password chosen.
			var acct struct {
				ID, Email         string
				HashFormat        string    `json:"hash_format"`
				PasswordChangedAt time.Time `json:"password_changed_at"`
			}
			if resp := adminJSON(t, "PUT", admin+"/admin/v1/accounts/shop%3A1", `{"email":"Ann@Example.org","password":"`+pw+`"}`, &acct); resp.StatusCode != 201 ||
				resp.Header.Get("Location") != "/admin/v1/accounts/shop:1" || acct.ID != "shop:1" || acct.HashFormat != "argon2id" {
				t.Fatalf("signup: %d %+v", resp.StatusCode, acct)
			}
			var taken problemCode
			if resp := adminJSON(t, "PUT", admin+"/admin/v1/accounts/shop:2", `{"email":"ann@EXAMPLE.org"}`, &taken); resp.StatusCode != 409 || taken.Code != "email_taken" {
				t.Fatalf("an address taken: %d %+v", resp.StatusCode, taken)
			}
			var weak problemCode
			if resp := adminJSON(t, "PUT", admin+"/admin/v1/accounts/shop:2", `{"email":"bob@example.org","password":"short"}`, &weak); resp.StatusCode != 422 ||
				weak.Code != "password_too_short" || weak.Field != "password" {
				t.Fatalf("a weak password: %d %+v", resp.StatusCode, weak)
			}

			// Sign-in checks.
			type verdict struct {
				Valid             bool      `json:"valid"`
				ID                string    `json:"id"`
				PasswordChangedAt time.Time `json:"password_changed_at"`
			}
			check := func(body string) verdict {
				var v verdict
				if resp := adminJSON(t, "POST", admin+"/admin/v1/password/verify", body, &v); resp.StatusCode != 200 {
					t.Fatalf("verify %s: %d", body, resp.StatusCode)
				}
				return v
			}
			if v := check(`{"email":"ann@example.org","password":"` + pw + `","client_ip":"203.0.113.7"}`); !v.Valid || v.ID != "shop:1" || !v.PasswordChangedAt.Equal(acct.PasswordChangedAt) {
				t.Fatalf("the right password: %+v", v)
			}
			for _, body := range []string{`{"email":"ann@example.org","password":"` + pw2 + `"}`, `{"email":"nobody@example.org","password":"` + pw + `"}`,
				`{"id":"nobody","password":"` + pw + `"}`} {
				if v := check(body); v != (verdict{}) {
					t.Fatalf("%s: got %+v, want {valid:false} alone", body, v)
				}
			}

			// Lookups.
			var page struct {
				Accounts  []struct{ ID string } `json:"accounts"`
				NextAfter string                `json:"next_after"`
			}
			if adminJSON(t, "GET", admin+"/admin/v1/accounts?email=ann%40example.org", "", &page); len(page.Accounts) != 1 || page.Accounts[0].ID != "shop:1" {
				t.Fatalf("by address: %+v", page)
			}

			// A pending link dies when the address moves; the next one goes to the new address.
			wantStatus(t, put(t, public, "", `{"email":"ann@example.org"}`), 202)
			pending := tokenOf(t, sg.next(t))
			if resp := adminJSON(t, "PUT", admin+"/admin/v1/accounts/shop:1", `{"email":"ann@new.example"}`, nil); resp.StatusCode != 200 {
				t.Fatalf("move: %d", resp.StatusCode)
			}
			wantStatus(t, put(t, public, "", `{"token":"`+pending+`","new":"`+pw2+`"}`), 403)
			if resp := adminCall(t, "POST", admin+"/admin/v1/accounts/shop:1/password-reset", e2eAdminKey, "", "", nil); resp.StatusCode != 202 {
				t.Fatalf("support reset: %d", resp.StatusCode)
			}
			mail := sg.next(t)
			if b, _ := json.Marshal(mail); !strings.Contains(string(b), "ann@new.example") {
				t.Fatalf("the support reset went elsewhere: %s", b)
			}
			var link struct {
				Link      string    `json:"link"`
				ExpiresAt time.Time `json:"expires_at"`
			}
			if resp := adminJSON(t, "POST", admin+"/admin/v1/accounts/shop:1/password-reset", `{"deliver":"return"}`, &link); resp.StatusCode != 200 ||
				!strings.HasPrefix(link.Link, "https://app.example.org/password-reset?token=") {
				t.Fatalf("a returned link: %d %+v", resp.StatusCode, link)
			}
			wantStatus(t, put(t, public, "", `{"token":"`+tokenOf(t, mail)+`","new":"`+pw2+`"}`), 403) // superseded
			wantStatus(t, put(t, public, "", `{"token":"`+strings.TrimPrefix(link.Link, "https://app.example.org/password-reset?token=")+`","new":"`+pw2+`"}`), 204)
			sg.next(t) // the notice
			if v := check(`{"id":"shop:1","password":"` + pw2 + `"}`); !v.Valid {
				t.Fatal("the reset password does not verify")
			}

			// An import; its bcrypt account is upgraded at the first sign-in.
			var imp struct {
				Summary map[string]int `json:"summary"`
				Results []struct {
					Line    int    `json:"line"`
					Outcome string `json:"outcome"`
					Code    string `json:"code"`
				} `json:"results"`
			}
			lines := `{"id":"bc","email":"bc@example.org","password_hash":"` + legacyBcrypt + `","password_changed_at":"2025-01-02T03:04:05Z"}` + "\n" +
				`{"id":"bad","email":"not an address"}` + "\n"
			if resp := adminCall(t, "POST", admin+"/admin/v1/accounts/import", e2eAdminKey, "application/x-ndjson", lines, &imp); resp.StatusCode != 200 ||
				imp.Summary["imported"] != 1 || imp.Summary["errors"] != 1 || len(imp.Results) != 2 || imp.Results[1].Code != "invalid_email" {
				t.Fatalf("import: %d %+v", resp.StatusCode, imp)
			}
			if v := check(`{"email":"bc@example.org","password":"` + legacyPassword + `"}`); !v.Valid ||
				!v.PasswordChangedAt.Equal(time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)) {
				t.Fatalf("the imported password: %+v", v)
			}
			if adminJSON(t, "GET", admin+"/admin/v1/accounts/bc", "", &acct); acct.HashFormat != "argon2id" ||
				!acct.PasswordChangedAt.Equal(time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)) {
				t.Fatalf("after the first sign-in: %+v, want argon2id and the same password_changed_at", acct)
			}

			// Delete.
			if resp := adminCall(t, "DELETE", admin+"/admin/v1/accounts/bc", e2eAdminKey, "", "", nil); resp.StatusCode != 204 {
				t.Fatalf("delete: %d", resp.StatusCode)
			}
			var gone problemCode
			if resp := adminCall(t, "DELETE", admin+"/admin/v1/accounts/bc", e2eAdminKey, "", "", &gone); resp.StatusCode != 404 || gone.Code != "account_not_found" {
				t.Fatalf("delete twice: %d %+v", resp.StatusCode, gone)
			}
			if adminJSON(t, "GET", admin+"/admin/v1/accounts", "", &page); len(page.Accounts) != 1 || page.NextAfter != "" {
				t.Fatalf("the list at the end: %+v", page)
			}

			out := logs.String()
			for _, canary := range []string{pw, pw2, e2eAdminKey, "old-admin-key", legacyBcrypt, link.Link} {
				if strings.Contains(out, canary) {
					t.Errorf("the log holds %q", canary)
				}
			}
			if !strings.Contains(out, `"event":"admin_call"`) || !strings.Contains(out, `"event":"admin_refused"`) {
				t.Error("admin calls are not logged as security events")
			}
		})
	}
}

// TestSignInLimitsAcrossReplicas: two replicas on one PostgreSQL share the
// sign-in limits: failures counted on one throttle the other, per account
// and per client IP.
func TestSignInLimitsAcrossReplicas(t *testing.T) {
	env := map[string]string{
		"ACCOUNTPW_DATABASE_URL": mustPostgresURL(t), "ACCOUNTPW_AUTH_JWT_SECRET": "replica-secret-0123456789abcdefghijkl",
		"ACCOUNTPW_MAIL_PROVIDER": "log", "ACCOUNTPW_MAIL_ALLOW_LOG_PROVIDER": "true",
		"ACCOUNTPW_PASSWORD_ARGON2_MEMORY_KIB": "19456", "ACCOUNTPW_PASSWORD_ARGON2_TIME": "2",
		"ACCOUNTPW_PASSWORD_ARGON2_THREADS": "1", "ACCOUNTPW_PASSWORD_HASH_WAIT": "5s",
		"ACCOUNTPW_LIMITS_CHANGE_FAILURES": "2", "ACCOUNTPW_LIMITS_SIGN_IN_FAILURES_PER_IP_PER_15M": "3",
	}
	envB := map[string]string{}
	for k, v := range env {
		envB[k] = v
	}
	_, a, _ := startAdmin(t, env)
	_, b, _ := startAdmin(t, envB)
	const pw = "replica velvet orbit copper lantern"
	if resp := adminJSON(t, "PUT", a+"/admin/v1/accounts/r1", `{"email":"r1@example.org","password":"`+pw+`"}`, nil); resp.StatusCode != 201 {
		t.Fatalf("create: %d", resp.StatusCode)
	}
	status := func(base, body string) int {
		t.Helper()
		return adminJSON(t, "POST", base+"/admin/v1/password/verify", body, nil).StatusCode
	}
	// The account: a wrong password on each replica, then the right one on
	// either is refused.
	wrong := `{"id":"r1","password":"not the password at all"}`
	if s1, s2 := status(a, wrong), status(b, wrong); s1 != 200 || s2 != 200 {
		t.Fatalf("two wrong passwords: %d %d", s1, s2)
	}
	for _, base := range []string{a, b} {
		if s := status(base, `{"id":"r1","password":"`+pw+`"}`); s != 429 {
			t.Fatalf("the right password during the back-off: %d, want 429", s)
		}
	}
	// The client: three failures spread over two replicas and three
	// unknown accounts, then the fourth check is refused on either.
	for i, base := range []string{a, b, a} {
		if s := status(base, `{"id":"x`+string(rune('0'+i))+`","password":"p","client_ip":"198.51.100.4"}`); s != 200 {
			t.Fatalf("failure %d: %d", i, s)
		}
	}
	for _, base := range []string{a, b} {
		if s := status(base, `{"id":"x9","password":"p","client_ip":"198.51.100.4"}`); s != 429 {
			t.Fatalf("a client over its failures: %d, want 429", s)
		}
	}
	if s := status(b, `{"id":"x9","password":"p","client_ip":"198.51.100.5"}`); s != 200 {
		t.Fatalf("another client: %d", s)
	}
}
