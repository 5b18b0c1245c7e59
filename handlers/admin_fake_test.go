package handlers

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/accountpw/accountpw/models"
)

// testAdminKey and otherAdminKey are admin API keys of the tests.
var (
	testAdminKey  = strings.Repeat("k", 32)
	otherAdminKey = strings.Repeat("o", 40)
)

// fakeAdmin records every AdminService call and answers with the
// configured errors, like fakeService.
type fakeAdmin struct {
	fakeService
	amu    sync.Mutex
	put    models.AccountPut
	bodies []string // what PutAccount and ImportAccounts were given
	signIn models.SignIn
}

func newFakeAdmin() *fakeAdmin {
	f := &fakeAdmin{fakeService: *newFake()}
	f.put = models.AccountPut{Account: testAccount("shop:1"), Created: true}
	return f
}

func testAccount(id string) models.AccountInfo {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	return models.AccountInfo{ID: id, Email: id[:1] + "@example.org", CreatedAt: at, PasswordChangedAt: at, HashFormat: "argon2id"}
}

func (f *fakeAdmin) keep(b string) {
	f.amu.Lock()
	defer f.amu.Unlock()
	f.bodies = append(f.bodies, b)
}

func (f *fakeAdmin) Account(ctx context.Context, id string) (models.AccountInfo, error) {
	return testAccount(id), f.record(ctx, "Account", models.Client{}, models.Session{}, id)
}

func (f *fakeAdmin) AccountByEmail(ctx context.Context, email string) (models.AccountInfo, error) {
	return testAccount("found"), f.record(ctx, "AccountByEmail", models.Client{}, models.Session{}, email)
}

func (f *fakeAdmin) Accounts(ctx context.Context, after string, limit int) (models.AccountPage, error) {
	err := f.record(ctx, "Accounts", models.Client{}, models.Session{}, after, itoa(limit))
	return models.AccountPage{Accounts: []models.AccountInfo{testAccount("a1"), testAccount("a2")}, NextAfter: "a2"}, err
}

func (f *fakeAdmin) PutAccount(ctx context.Context, id string, body []byte) (models.AccountPut, error) {
	f.keep(string(body))
	put := f.put
	put.Account.ID = id
	return put, f.record(ctx, "PutAccount", models.Client{}, models.Session{}, id)
}

func (f *fakeAdmin) DeleteUser(ctx context.Context, id string) error {
	return f.record(ctx, "DeleteUser", models.Client{}, models.Session{}, id)
}

func (f *fakeAdmin) ImportAccounts(ctx context.Context, r io.Reader, dryRun bool, each func(models.ImportResult)) (models.ImportSummary, error) {
	b, _ := io.ReadAll(r)
	f.keep(string(b))
	each(models.ImportResult{Line: 1, ID: "a", Outcome: "imported"})
	each(models.ImportResult{Line: 2, Outcome: "error", Code: "invalid_email", Detail: "email: not a valid address"})
	dry := "false"
	if dryRun {
		dry = "true"
	}
	return models.ImportSummary{Imported: 1, Errors: 1}, f.record(ctx, "ImportAccounts", models.Client{}, models.Session{}, dry)
}

func (f *fakeAdmin) EmailReset(ctx context.Context, c models.Client, id string) error {
	return f.record(ctx, "EmailReset", c, models.Session{}, id)
}

func (f *fakeAdmin) ResetLink(ctx context.Context, c models.Client, id string) (models.ResetLink, error) {
	return models.ResetLink{Link: "https://app.example.org/password-reset?token=t", ExpiresAt: time.Unix(1e9, 0).UTC()},
		f.record(ctx, "ResetLink", c, models.Session{}, id)
}

func (f *fakeAdmin) SignIn(ctx context.Context, c models.Client, in models.SignIn) (models.SignInResult, error) {
	f.amu.Lock()
	f.signIn = in
	f.amu.Unlock()
	return models.SignInResult{Valid: true, ID: "shop:1", PasswordChangedAt: time.Unix(1e9, 0).UTC()},
		f.record(ctx, "SignIn", c, models.Session{}, in.ID, in.Email)
}

func itoa(n int) string { return strconv.Itoa(n) }

// admin builds a request to the admin API bearing key ("" for none).
func admin(method, target, key, contentType, body string) *http.Request {
	var r *http.Request
	if body == "" {
		r = httptest.NewRequest(method, target, nil)
	} else {
		r = httptest.NewRequest(method, target, strings.NewReader(body))
	}
	if key != "" {
		r.Header.Set("Authorization", "Bearer "+key)
	}
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	return r
}

// serveAdmin sends r through a fresh admin router over f, with
// testAdminKey and otherAdminKey configured, and checks the exchange
// against openapi.yaml.
func serveAdmin(f *fakeAdmin, opts AdminOptions, r *http.Request) *httptest.ResponseRecorder {
	if opts.Logger == nil {
		opts.Logger = discardLogger
	}
	if opts.Keys == nil {
		opts.Keys = []string{testAdminKey, otherAdminKey}
	}
	body := contract.capture(r)
	rec := httptest.NewRecorder()
	NewAdmin(f, opts).ServeHTTP(rec, r)
	contract.observe(r, body, rec)
	return rec
}
