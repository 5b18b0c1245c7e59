// Package handlers is the HTTP layer of accountpw: the Echo router and its
// middleware, strict decoding of the password resource's JSON body, dispatch
// on the body's exact shape to the Service, and the one table from error kind
// to HTTP status with the RFC 9457 error handler. An optional Observer hears
// the operation, status and duration of every request, for metrics; the
// metrics themselves are served elsewhere, never by this router.
package handlers

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/accountpw/accountpw/models"
)

// Options configures New. The zero value is usable: no proxies trusted, no
// CORS, no HSTS, a 10 s request timeout and the default slog logger.
type Options struct {
	// Logger receives one JSON line per request and the text of 5xx errors.
	// Nil means slog.Default().
	Logger *slog.Logger
	// TrustedProxies are the networks whose X-Forwarded-For is believed.
	// Forwarding headers count only when the direct peer is in one of them
	// (loopback and private ranges are not trusted implicitly); X-Real-IP
	// and Forwarded never count. Empty means the connection peer is the
	// client.
	TrustedProxies []netip.Prefix
	// CORSOrigins are the exact browser origins ("https://app.example.com")
	// allowed to call the password resource; it then also answers OPTIONS
	// preflights. "*", "null" and anything that is not a bare http(s)
	// origin make New panic. Empty disables CORS.
	CORSOrigins []string
	// TLS says the server itself terminates TLS; responses sent over a TLS
	// connection then carry Strict-Transport-Security. Leave it false when a
	// proxy terminates TLS (the proxy sends HSTS).
	TLS bool
	// RequestTimeout bounds the context every service call gets; a call that
	// runs out of it answers 503. Zero means 10 s. A request's body must
	// arrive within half of it, else the answer is 408 body_timeout: the
	// other half is left for counting the request and answering.
	RequestTimeout time.Duration
	// ChangePasswordURL is where /.well-known/change-password redirects
	// (302): a local path or an absolute http(s) URL, anything else makes
	// New panic. Empty means the built-in page's request form,
	// /password-reset/request.
	ChangePasswordURL string
	// DefaultLanguage is the page's language for a browser that asks for
	// none of models.Languages (pass mail.default_locale, so that the page
	// and the emails agree); a tag not in the list makes New panic. Empty
	// means "en".
	DefaultLanguage string
	// ProductName names the product on the built-in page, as the emails do
	// (pass mail.product_name). Empty means "accountpw".
	ProductName string
	// SignInURL, when set, is where the built-in page's "continue to sign
	// in" link leads once a reset succeeded (pass reset.sign_in_url): an
	// absolute http(s) URL, anything else makes New panic. Empty shows no
	// link.
	SignInURL string
	// Observer, when not nil, hears the operation, status and duration of
	// every request.
	Observer Observer
}

// server holds what the handlers need.
type server struct {
	svc Service
	log *slog.Logger
	// realm names the protection space in 401 challenges.
	realm string
	// bodyTimeout is how long a request body may take to arrive.
	bodyTimeout time.Duration
}

// New returns an Echo instance with every route and middleware of accountpw
// in place, ready for http.Server or ServeHTTP.
func New(svc Service, opts Options) *echo.Echo {
	s := &server{svc: svc, log: opts.Logger, realm: publicRealm}
	if s.log == nil {
		s.log = slog.Default()
	}
	if opts.RequestTimeout <= 0 {
		opts.RequestTimeout = 10 * time.Second
	}
	s.bodyTimeout = opts.RequestTimeout / 2
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.IPExtractor = ipExtractor(opts.TrustedProxies)
	e.HTTPErrorHandler = s.handleError

	// allow lists the methods of every path; allowMethods answers 405 from it.
	allow := map[string][]string{}
	add := func(method, path string, h echo.HandlerFunc, m ...echo.MiddlewareFunc) {
		e.Add(method, path, h, m...)
		allow[path] = append(allow[path], method)
	}
	// get adds a GET route and its HEAD (RFC 9110: the same answer without
	// the body), which probes and link checkers use.
	get := func(path string, h echo.HandlerFunc, m ...echo.MiddlewareFunc) {
		add(echo.GET, path, h, m...)
		add(echo.HEAD, path, h, append([]echo.MiddlewareFunc{withoutBody}, m...)...)
	}

	e.Pre(dropBadRequestID)
	if opts.Observer != nil {
		e.Use(observe(opts.Observer, allow))
	}
	e.Use(common(s.log, opts.TLS, opts.RequestTimeout)...)
	e.Use(allowMethods(allow, s.admitRefused))

	var resource []echo.MiddlewareFunc
	if len(opts.CORSOrigins) > 0 {
		for _, o := range opts.CORSOrigins {
			mustOrigin(o)
		}
		resource = append(resource, cors(opts.CORSOrigins))
	}
	add(echo.PUT, passwordPath, s.putPassword, slices.Concat(resource, []echo.MiddlewareFunc{rejectQuery(s.admitRefused)})...)
	if len(resource) > 0 {
		// The CORS middleware answers every OPTIONS itself; this is never reached.
		add(echo.OPTIONS, passwordPath, func(c echo.Context) error { return c.NoContent(http.StatusNoContent) }, resource...)
	}
	// The built-in reset page, its assets and the well-known redirect.
	if opts.ChangePasswordURL == "" {
		opts.ChangePasswordURL = pageRequestPath
	}
	mustRedirectTarget(opts.ChangePasswordURL)
	if opts.DefaultLanguage == "" {
		opts.DefaultLanguage = "en"
	}
	mustPageLanguage(opts.DefaultLanguage)
	if opts.ProductName == "" {
		opts.ProductName = defaultProductName
	}
	mustSignInURL(opts.SignInURL)
	pages := mustLocalizedPages(opts.ProductName, opts.SignInURL)
	get(pagePath, serveLocalizedPage(pages, opts.DefaultLanguage), pageHeaders)
	get(pageRequestPath, serveLocalizedPage(pages, opts.DefaultLanguage), pageHeaders)
	get(pageScriptPath, servePage(pageScript), pageHeaders)
	get(pageStylePath, servePage(pageStyle), pageHeaders)
	get(changePassword, redirectTo(opts.ChangePasswordURL))
	get("/healthz", s.healthz)
	get("/readyz", s.readyz)
	return e
}

// publicRealm names the password resource's bearer sessions in its 401
// challenges.
const publicRealm = "accountpw"

// admitRefused counts a request to the password resource that is refused
// before its handler runs (a query string, another method) against the
// client ceiling, as every request to the resource is counted: over the
// ceiling the answer is its 429. Other paths count nothing.
func (s *server) admitRefused(c echo.Context) error {
	if c.Path() != passwordPath {
		return nil
	}
	return s.svc.Admit(c.Request().Context(), clientOf(c))
}

// ipExtractor believes X-Forwarded-For only from the listed proxies.
func ipExtractor(trusted []netip.Prefix) echo.IPExtractor {
	if len(trusted) == 0 {
		return echo.ExtractIPDirect()
	}
	opts := []echo.TrustOption{echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false)}
	for _, p := range trusted {
		p = p.Masked()
		opts = append(opts, echo.TrustIPRange(&net.IPNet{
			IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen()),
		}))
	}
	return echo.ExtractIPFromXFFHeader(opts...)
}

// mustOrigin panics unless o is a bare http(s) origin. Configuration checks
// origins with the same models.CheckOrigin before anything starts, so a
// configuration that loaded never panics here.
func mustOrigin(o string) {
	if err := models.CheckOrigin(o); err != nil {
		panic(fmt.Sprintf("handlers: CORS origin: %v", err))
	}
}

// Fixed bodies of the health endpoints.
var (
	healthyBody = []byte(`{"status":"ok"}`)
	readyBody   = []byte(`{"status":"ready"}`)
)

// healthz answers liveness probes: the process serves HTTP.
func (s *server) healthz(c echo.Context) error {
	return fixedJSON(c, http.StatusOK, healthyBody)
}

// readyTimeout bounds a readiness probe: a prober that waits longer than
// this has given up anyway (the container healthcheck waits 2 s), and a
// database that cannot answer within it is not ready.
const readyTimeout = 2 * time.Second

// readyz answers readiness probes within readyTimeout. Any failure of Ready
// is a 503 whatever its kind: an unready dependency is never the prober's
// fault. The cause is kept (wrapped) so that the error handler logs it.
func (s *server) readyz(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), readyTimeout)
	defer cancel()
	if err := s.svc.Ready(ctx); err != nil {
		return fmt.Errorf("%w: %w", models.ErrUnavailable, err)
	}
	return fixedJSON(c, http.StatusOK, readyBody)
}

// fixedJSON answers with a body known in full, and says its length: a HEAD
// request's answer (withoutBody) must carry the same Content-Length as the
// GET's, and net/http computes one only for a body it has seen.
func fixedJSON(c echo.Context, status int, body []byte) error {
	c.Response().Header().Set(echo.HeaderContentLength, strconv.Itoa(len(body)))
	return c.JSONBlob(status, body)
}

// withoutBody makes a HEAD request's handler write headers and status only.
// Every GET route therefore states its Content-Length itself (fixedJSON,
// servePage, redirectTo, handleError).
func withoutBody(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		c.Response().Writer = bodyless{c.Response().Writer}
		return next(c)
	}
}

// bodyless drops what is written as the body.
type bodyless struct{ http.ResponseWriter }

func (bodyless) Write(p []byte) (int, error) { return len(p), nil }

// Unwrap lets http.ResponseController reach the connection's writer.
func (b bodyless) Unwrap() http.ResponseWriter { return b.ResponseWriter }
