package handlers

import (
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/accountpw/accountpw/models"
)

// common is the middleware both routers run on every request, in order:
// the client's own context kept, a request id, the security headers, the
// access log, and panics turned into 500s the access log sees; then the
// request's deadline, past which a service call answers 503.
func common(log *slog.Logger, tls bool, timeout time.Duration) []echo.MiddlewareFunc {
	return []echo.MiddlewareFunc{
		rememberClient,
		middleware.RequestID(),
		securityHeaders(tls),
		accessLog(log),
		middleware.RecoverWithConfig(middleware.RecoverConfig{
			DisableErrorHandler: true, // return the error so the access log sees the 500
			DisableStackAll:     true,
			LogErrorFunc: func(_ echo.Context, err error, stack []byte) error {
				return fmt.Errorf("panic: %w\n%s", err, stack)
			},
		}),
		middleware.ContextTimeoutWithConfig(middleware.ContextTimeoutConfig{
			Timeout: timeout,
			// handleError maps context.DeadlineExceeded to 503 itself.
			ErrorHandler: func(err error, _ echo.Context) error { return err },
		}),
	}
}

// validRequestID is what an incoming X-Request-ID must look like to be kept;
// anything else could forge or break log lines.
var validRequestID = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// dropBadRequestID runs before routing and removes an unusable incoming
// X-Request-ID, so that middleware.RequestID generates a fresh one. Echo's
// RequestID keeps any incoming value as it is.
func dropBadRequestID(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Request().Header
		if v := h.Values(echo.HeaderXRequestID); len(v) != 1 || !validRequestID.MatchString(v[0]) {
			h.Del(echo.HeaderXRequestID)
		}
		return next(c)
	}
}

// securityHeaders sets the headers every response carries, errors included.
// It replaces middleware.Secure, whose HSTS depends on c.Scheme() (which
// believes X-Forwarded-Proto from private peers) and which sends a legacy
// X-XSS-Protection by default. Cache-Control: no-store is server-wide: the
// password resource requires it and nothing here is worth caching.
func securityHeaders(tls bool) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			h := c.Response().Header()
			h.Set(echo.HeaderXContentTypeOptions, "nosniff")
			h.Set(echo.HeaderXFrameOptions, "DENY")
			h.Set(echo.HeaderReferrerPolicy, "no-referrer")
			h.Set(echo.HeaderContentSecurityPolicy, "default-src 'none'; frame-ancestors 'none'")
			h.Set(echo.HeaderCacheControl, "no-store")
			// Never over plain HTTP (RFC 6797 §7.2), even if TLS is configured.
			if tls && c.Request().TLS != nil {
				h.Set(echo.HeaderStrictTransportSecurity, "max-age=31536000; includeSubDomains")
			}
			return next(c)
		}
	}
}

// accessLog writes one line per request: method, route pattern, status,
// latency, request id, client IP and the problem code. Never the URI (a
// query string may carry a token), headers or bodies. The latency is
// latency_ms, a float with microsecond precision: the {"email"} branch
// answers in about a millisecond, which whole milliseconds would round
// away, and milliseconds are what dashboards and people read.
func accessLog(log *slog.Logger) echo.MiddlewareFunc {
	return middleware.RequestLoggerWithConfig(middleware.RequestLoggerConfig{
		HandleError: true, LogStatus: true, LogMethod: true, LogRoutePath: true,
		LogLatency: true, LogRemoteIP: true,
		LogValuesFunc: func(c echo.Context, v middleware.RequestLoggerValues) error {
			code, _ := c.Get(ctxProblemCode).(string)
			lvl := slog.LevelInfo
			if clientGone(c) || code == errBodyTimeout.Code {
				lvl = slog.LevelDebug // a disconnect or a stall, not an event of the service
			}
			log.LogAttrs(c.Request().Context(), lvl, "http",
				slog.String("method", v.Method), slog.String("route", v.RoutePath),
				slog.Int("status", v.Status), slog.Float64("latency_ms", latencyMS(v.Latency)),
				slog.String("request_id", c.Response().Header().Get(echo.HeaderXRequestID)),
				slog.String("ip", v.RemoteIP), slog.String("code", code))
			return nil
		},
	})
}

// latencyMS is d in milliseconds, to the microsecond.
func latencyMS(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// allowMethods answers 405 with the route's own Allow header for any method
// not registered on a known path. Echo's router would otherwise answer
// OPTIONS itself with 204 and list OPTIONS in every Allow header, and for
// methods it does not know it lists every method. A refused request is
// first shown to admit, which may answer in its place (the client
// ceiling's 429).
func allowMethods(allow map[string][]string, admit func(echo.Context) error) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			methods, known := allow[c.Path()]
			if !known || slices.Contains(methods, c.Request().Method) {
				return next(c)
			}
			if err := admit(c); err != nil {
				return err
			}
			c.Response().Header().Set(echo.HeaderAllow, strings.Join(methods, ", "))
			return errMethodNotAllowed
		}
	}
}

// rejectQuery refuses any query string, even a bare "?": secrets belong in
// the body, never in a URL that proxies and browsers record. The refused
// request is first shown to admit, which may answer in its place.
func rejectQuery(admit func(echo.Context) error) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if u := c.Request().URL; u.RawQuery != "" || u.ForceQuery {
				if err := admit(c); err != nil {
					return err
				}
				return models.ErrQueryNotAllowed
			}
			return next(c)
		}
	}
}

// cors allows the listed origins, matched exactly: Echo's AllowOrigins would
// also expand "*" and wildcard patterns, so an AllowOriginFunc does the match.
// No credentials: the session travels as a bearer token, never a cookie.
func cors(origins []string) echo.MiddlewareFunc {
	allowed := make(map[string]bool, len(origins))
	for _, o := range origins {
		allowed[o] = true
	}
	return middleware.CORSWithConfig(middleware.CORSConfig{
		AllowOriginFunc: func(origin string) (bool, error) { return allowed[origin], nil },
		AllowMethods:    []string{echo.PUT},
		AllowHeaders:    []string{echo.HeaderContentType, echo.HeaderAuthorization},
		ExposeHeaders:   []string{echo.HeaderRetryAfter, echo.HeaderXRequestID, echo.HeaderWWWAuthenticate},
		MaxAge:          600,
	})
}
