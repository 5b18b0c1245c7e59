package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"

	"github.com/accountpw/accountpw/services/config"
	"github.com/accountpw/accountpw/services/sessions"
)

// e2eHookSecret signs the events of the end-to-end test.
const e2eHookSecret = "whsec_c2VjcmV0LW9mLWFjbWUtc2hvcC0wMTIzNDU2Nzg5"

// appEvent is one password.changed event as the application received it.
type appEvent struct {
	ID   string
	Body struct {
		Type string `json:"type"`
		Data struct {
			UserID    string    `json:"user_id"`
			Method    string    `json:"method"`
			ChangedAt time.Time `json:"changed_at"`
		} `json:"data"`
	}
}

// appReceiver is the adopting application's webhook endpoint: it checks
// every request against the webhooks entry of openapi.yaml and verifies
// the signature the way docs/adopting.md tells receivers to (HMAC-SHA256 under
// the decoded secret, written here, not with the service's signing code),
// and records what fails.
type appReceiver struct {
	*httptest.Server
	events chan appEvent
	mu     sync.Mutex
	faults []string
}

func newAppReceiver(t *testing.T) *appReceiver {
	t.Helper()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromFile("openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	item := doc.Webhooks["passwordChanged"]
	if item == nil || item.Post == nil {
		t.Fatal("openapi.yaml has no webhooks.passwordChanged.post")
	}
	route := &routers.Route{Spec: doc, Path: "/hooks", PathItem: item, Method: http.MethodPost, Operation: item.Post}
	key, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(e2eHookSecret, "whsec_"))
	r := &appReceiver{events: make(chan appEvent, 20)}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		fault := func(format string, args ...any) {
			r.mu.Lock()
			r.faults = append(r.faults, fmt.Sprintf(format, args...))
			r.mu.Unlock()
			w.WriteHeader(http.StatusBadRequest)
		}
		check := req.Clone(context.Background())
		check.Body = io.NopCloser(bytes.NewReader(body))
		in := &openapi3filter.RequestValidationInput{Request: check, Route: route, Options: &openapi3filter.Options{
			AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, MultiError: true,
			SchemaValidationOptions: []openapi3.SchemaValidationOption{openapi3.EnableJSONSchema2020()}}}
		if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil {
			fault("openapi.yaml does not describe the event: %v", err)
			return
		}
		id, ts := req.Header.Get("webhook-id"), req.Header.Get("webhook-timestamp")
		mac := hmac.New(sha256.New, key)
		fmt.Fprintf(mac, "%s.%s.", id, ts)
		mac.Write(body)
		if want := "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil)); req.Header.Get("webhook-signature") != want {
			fault("signature %q, want %q", req.Header.Get("webhook-signature"), want)
			return
		}
		ev := appEvent{ID: id}
		if err := json.Unmarshal(body, &ev.Body); err != nil {
			fault("body: %v", err)
			return
		}
		r.events <- ev
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(r.Close)
	t.Cleanup(func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		for _, f := range r.faults {
			t.Error(f)
		}
	})
	return r
}

// next waits for the next accepted event.
func (r *appReceiver) next(t *testing.T) appEvent {
	t.Helper()
	select {
	case e := <-r.events:
		return e
	case <-time.After(20 * time.Second):
		t.Fatal("no event reached the application within 20 s")
		return appEvent{}
	}
}

// TestAdoptionEndToEnd is an application adopting the service on
// PostgreSQL: it creates an account under its own id, imports its users
// with their bcrypt hashes, signs sessions whose sub is its ids, and hears
// a signed password.changed event, as openapi.yaml describes it, for every
// change: by {"old","new"}, by reset, by an import that replaces a hash.
// A sub that cannot be an id is a 401; an imported account without a
// password answers a wrong old password with 403.
func TestAdoptionEndToEnd(t *testing.T) {
	const key = "SG.test-key"
	sg := newFakeSendGrid(t, key)
	app := newAppReceiver(t)
	secret := "e2e-secret-0123456789abcdefghijklmnop"
	env := map[string]string{
		"ACCOUNTPW_DATABASE_URL":               mustPostgresURL(t),
		"ACCOUNTPW_AUTH_JWT_SECRET":            secret,
		"ACCOUNTPW_MAIL_PROVIDER":              "sendgrid",
		"ACCOUNTPW_MAIL_SENDGRID_API_KEY":      key,
		"ACCOUNTPW_MAIL_SENDGRID_BASE_URL":     sg.URL,
		"ACCOUNTPW_RESET_URL":                  "https://app.example.org/password-reset",
		"ACCOUNTPW_WEBHOOK_URL":                app.URL + "/hooks",
		"ACCOUNTPW_WEBHOOK_SECRET":             e2eHookSecret,
		"ACCOUNTPW_PASSWORD_ARGON2_MEMORY_KIB": "19456",
		"ACCOUNTPW_PASSWORD_ARGON2_TIME":       "2",
		"ACCOUNTPW_PASSWORD_ARGON2_THREADS":    "1",
		"ACCOUNTPW_PASSWORD_HASH_WAIT":         "5s",
	}
	const (
		pw1 = "canary-Pw1 velvet orbit copper"
		pw2 = "canary-Pw2 quartz meadow tundra"
		pw3 = "canary-Pw3 ember glacier saffron"
	)
	base, logs := startServe(t, env)
	runCmd(t, env, pw1+"\n", "users", "create", "--id", "shop:1001", "--email", "Walker@Example.org", "--password-stdin")
	file := strings.Join([]string{
		`{"id":"shop:2001","email":"imported@example.org","password_hash":"` + legacyBcrypt + `","password_changed_at":"2025-01-02T03:04:05Z"}`,
		`{"id":"shop:2002","email":"nopass@example.org","locale":"de"}`,
	}, "\n")
	if out := runCmd(t, env, file, "users", "import"); out != `{"imported":2,"updated":0,"unchanged":0,"errors":0}`+"\n" {
		t.Fatalf("import printed %q", out)
	}

	bearer := func(sub string) string {
		tok, err := sessions.Issue([]byte(secret), config.Auth{}, sub, time.Now(), time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	// The application's session of an imported account changes the
	// imported password; the first event is that change (creating and
	// importing new accounts sends none).
	wantStatus(t, put(t, base, bearer("shop:2001"), `{"old":"`+legacyPassword+`","new":"`+pw2+`"}`), http.StatusNoContent)
	sg.next(t) // the notice
	change := app.next(t)
	if change.Body.Type != "password.changed" || change.Body.Data.UserID != "shop:2001" || change.Body.Data.Method != "change" {
		t.Fatalf("first event %+v, want the change of shop:2001", change.Body)
	}
	wantStatus(t, put(t, base, bearer("shop:2002"), `{"old":"anything at all, really","new":"`+pw2+`"}`), http.StatusForbidden)
	wantStatus(t, put(t, base, bearer("shop 1001"), `{"old":"`+pw1+`","new":"`+pw2+`"}`), http.StatusUnauthorized)
	wantStatus(t, put(t, base, bearer("SHOP:1001"), `{"old":"`+pw1+`","new":"`+pw2+`"}`), http.StatusUnauthorized)

	// A reset by email of the account created under the application's id.
	wantStatus(t, put(t, base, "", `{"email":"walker@example.org"}`), http.StatusAccepted)
	token := tokenOf(t, sg.next(t))
	wantStatus(t, put(t, base, "", `{"token":"`+token+`","new":"`+pw3+`"}`), http.StatusNoContent)
	sg.next(t)
	reset := app.next(t)
	if reset.Body.Data.UserID != "shop:1001" || reset.Body.Data.Method != "reset" || reset.ID == change.ID {
		t.Fatalf("reset event %+v (id %s)", reset.Body, reset.ID)
	}

	// A later import gives the account without a password its hash.
	again := `{"id":"shop:2002","email":"nopass@example.org","password_hash":"` + legacyBcrypt + `"}`
	if out := runCmd(t, env, again, "users", "import", "-"); out != `{"imported":0,"updated":1,"unchanged":0,"errors":0}`+"\n" {
		t.Fatalf("second import printed %q", out)
	}
	imp := app.next(t)
	if imp.Body.Data.UserID != "shop:2002" || imp.Body.Data.Method != "import" {
		t.Fatalf("import event %+v", imp.Body)
	}
	wantStatus(t, put(t, base, bearer("shop:2002"), `{"old":"`+legacyPassword+`","new":"`+pw3+`"}`), http.StatusNoContent)
	if ev := app.next(t); ev.Body.Data.UserID != "shop:2002" || ev.Body.Data.Method != "change" {
		t.Fatalf("event %+v, want the change of shop:2002", ev.Body)
	}

	for _, canary := range []string{pw1, pw2, pw3, legacyPassword, legacyBcrypt, token, e2eHookSecret, "Walker@Example.org",
		"walker@example.org", "imported@example.org", "nopass@example.org"} {
		if strings.Contains(logs.String(), canary) {
			t.Errorf("the log contains the secret or address %q", canary)
		}
	}
	if !strings.Contains(logs.String(), `"kind":"webhook","attempt":1,"outcome":"sent"`) {
		t.Errorf("no webhook delivery line in the log")
	}
}
