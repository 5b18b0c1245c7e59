package handlers

import (
	"log/slog"
	"net/netip"
	"time"

	"github.com/labstack/echo/v4"
)

// The admin API: the adopting application's server-side door, on a
// listener of its own (never the public one, which answers 404 under
// /admin/), behind API keys. Its paths and operations; the operation names
// are what AdminObserver hears, a public contract (metric label values).
const (
	adminPrefix       = "/admin/v1"
	adminAccounts     = adminPrefix + "/accounts"
	adminAccount      = adminAccounts + "/:id"
	adminImport       = adminAccounts + "/import"
	adminPasswordRset = adminAccount + "/password-reset"
	adminVerify       = adminPrefix + "/password/verify"

	opPutAccount     = "put_account"
	opGetAccount     = "get_account"
	opListAccounts   = "list_accounts"
	opDeleteAccount  = "delete_account"
	opImportAccounts = "import_accounts"
	opPasswordReset  = "password_reset"
	opVerifyPassword = "verify_password"
)

// AdminObserver hears every admin request, for metrics: its operation (the
// op… names above, "other" for anything else) and status. It must not
// block.
type AdminObserver interface {
	ObserveAdminRequest(operation string, status int, elapsed time.Duration)
}

// AdminOptions configures NewAdmin.
type AdminOptions struct {
	// Logger receives the access log, the security event of every call and
	// the text of 5xx errors; nil means slog.Default().
	Logger *slog.Logger
	// Keys are the API keys, each at least models.MinAdminKeyLength bytes; a
	// request must bear one of them. NewAdmin panics without one: config
	// refuses an admin address without keys first.
	Keys []string
	// TrustedProxies, TLS and RequestTimeout mean what they mean in
	// Options.
	TrustedProxies []netip.Prefix
	TLS            bool
	RequestTimeout time.Duration
	// Observer, when not nil, hears every request.
	Observer AdminObserver
}

// adminServer holds what the admin handlers need.
type adminServer struct {
	svc AdminService
	log *slog.Logger
	// bodyTimeout is how long a request body may take to arrive.
	bodyTimeout time.Duration
}

// NewAdmin returns the admin API's Echo instance, for a listener of its own.
func NewAdmin(svc AdminService, opts AdminOptions) *echo.Echo {
	keys := newAdminKeys(opts.Keys)
	a := &adminServer{svc: svc, log: opts.Logger}
	if a.log == nil {
		a.log = slog.Default()
	}
	if opts.RequestTimeout <= 0 {
		opts.RequestTimeout = 10 * time.Second
	}
	a.bodyTimeout = opts.RequestTimeout / 2
	errs := &server{log: a.log, realm: adminRealm}
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.IPExtractor = ipExtractor(opts.TrustedProxies)
	e.HTTPErrorHandler = errs.handleError

	allow := map[string][]string{}
	ops := map[string]string{}
	add := func(method, path, op string, h echo.HandlerFunc, m ...echo.MiddlewareFunc) {
		e.Add(method, path, h, m...)
		allow[path] = append(allow[path], method)
		ops[method+" "+path] = op
	}
	e.Pre(dropBadRequestID)
	if opts.Observer != nil {
		e.Use(observeAdmin(opts.Observer, ops))
	}
	e.Use(common(a.log, opts.TLS, opts.RequestTimeout)...)
	e.Use(
		allowMethods(allow, func(echo.Context) error { return nil }), // the admin API has no client ceiling
		keys.authenticate(a.log),
	)
	// The list and the import read their query; every other route takes
	// none, and refuses one as the public resource does.
	noQuery := rejectQuery(func(echo.Context) error { return nil })
	add(echo.GET, adminAccounts, opListAccounts, a.listAccounts)
	add(echo.HEAD, adminAccounts, opListAccounts, withoutBody(a.listAccounts))
	add(echo.PUT, adminAccount, opPutAccount, a.putAccount, noQuery)
	add(echo.GET, adminAccount, opGetAccount, a.getAccount, noQuery)
	add(echo.HEAD, adminAccount, opGetAccount, withoutBody(a.getAccount), noQuery)
	add(echo.DELETE, adminAccount, opDeleteAccount, a.deleteAccount, noQuery)
	add(echo.POST, adminImport, opImportAccounts, a.importAccounts)
	add(echo.POST, adminPasswordRset, opPasswordReset, a.passwordReset, noQuery)
	add(echo.POST, adminVerify, opVerifyPassword, a.verifyPassword, noQuery)
	return e
}

// adminRealm names the admin API in its 401 challenges, apart from the
// public resource's bearer sessions.
const adminRealm = "accountpw-admin"

// observeAdmin tells obs the operation, status and duration of every admin
// request; a method not registered on a path (405) is "other".
func observeAdmin(obs AdminObserver, ops map[string]string) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			start := time.Now()
			err := next(c)
			op, ok := ops[c.Request().Method+" "+c.Path()]
			if !ok {
				op = opOther
			}
			obs.ObserveAdminRequest(op, c.Response().Status, time.Since(start))
			return err
		}
	}
}
