package handlers

import (
	"fmt"
	"io/fs"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/accountpw/accountpw/models"

	"github.com/accountpw/accountpw/templates"
)

// Paths of the built-in reset page. pagePath is the default reset.url: the
// emailed link opens it with ?token=…. The page and its assets come from
// templates.FS, the HTML rendered once per language at start-up; the server
// never renders anything of a request, the token least of all, into them.
const (
	pagePath        = "/password-reset"
	pageRequestPath = models.RequestPagePath
	pageScriptPath  = "/password-reset/app.js"
	pageStylePath   = "/password-reset/app.css"
	changePassword  = "/.well-known/change-password"
)

// pageCSP replaces the API's "default-src 'none'" on the page routes only:
// same-origin script, style and fetch, nothing inline, nothing third-party.
const pageCSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; " +
	"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// page is one embedded file and its media type.
type page struct {
	contentType string
	body        []byte
}

// Read once at start-up; a missing file is a build error (the embed pattern
// names them), so Must is safe. The HTML is rendered per language by New
// (mustLocalizedPages).
var (
	pageScript = mustPage("reset_page.js", "text/javascript; charset=utf-8")
	pageStyle  = mustPage("reset_page.css", "text/css; charset=utf-8")
)

func mustPage(name, contentType string) page {
	b, err := fs.ReadFile(templates.FS, name)
	if err != nil {
		panic(fmt.Sprintf("handlers: embedded page file: %v", err))
	}
	return page{contentType: contentType, body: b}
}

// servePage answers with p under the page's headers. The query string
// (?token=…) is not read: the page's script takes the token from the address.
func servePage(p page) echo.HandlerFunc {
	return func(c echo.Context) error {
		c.Response().Header().Set(echo.HeaderContentLength, strconv.Itoa(len(p.body)))
		return c.Blob(http.StatusOK, p.contentType, p.body)
	}
}

// pageHeaders sets what the page routes need on top of securityHeaders
// (nosniff, X-Frame-Options DENY, Referrer-Policy no-referrer, no-store),
// which already ran.
func pageHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		c.Response().Header().Set(echo.HeaderContentSecurityPolicy, pageCSP)
		return next(c)
	}
}

// redirectTo answers /.well-known/change-password (W3C "A Well-Known URL for
// Changing Passwords") with a 302 to target.
func redirectTo(target string) echo.HandlerFunc {
	return func(c echo.Context) error {
		// No body: said explicitly, so that HEAD answers the same as GET.
		c.Response().Header().Set(echo.HeaderContentLength, "0")
		return c.Redirect(http.StatusFound, target)
	}
}

// mustRedirectTarget panics unless target is a local path or an absolute
// http(s) URL (models.CheckRedirectTarget). Configuration checks it with the
// same function before anything starts, so a configuration that loaded never
// panics here.
func mustRedirectTarget(target string) {
	if err := models.CheckRedirectTarget(target); err != nil {
		panic(fmt.Sprintf("handlers: change-password URL: %v", err))
	}
}
