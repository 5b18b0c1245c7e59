package models

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strings"
)

// RequestPagePath is where the built-in page asks for a reset link, on the
// origin that serves it; the "password changed" notice links there.
const RequestPagePath = "/password-reset/request"

// CheckOrigin accepts exactly a bare http(s) origin such as
// "https://app.example.com": no path, query, wildcard, user info or "null".
// CORS compares origins byte for byte, so anything looser would silently
// open or close the API to a browser. Configuration and the router use this
// same rule, so a value that passed validation never fails later.
func CheckOrigin(o string) error {
	u, err := url.Parse(o)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" ||
		u.Scheme+"://"+u.Host != o || strings.ContainsAny(u.Host, "*?%@ ") {
		return fmt.Errorf("%q is not an exact http(s) origin like https://app.example.com", o)
	}
	return nil
}

// CheckRedirectTarget accepts a local path ("/…", never "//…" or one with a
// backslash, which browsers treat as another host) or an absolute http(s)
// URL, and nothing with whitespace: a redirect target that is neither would
// become an open redirect or a broken header.
func CheckRedirectTarget(target string) error {
	u, err := url.Parse(target)
	local := strings.HasPrefix(target, "/") && !strings.HasPrefix(target, "//") && !strings.Contains(target, `\`)
	remote := err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != "" && !strings.Contains(target, `\`)
	if err != nil || !(local || remote) || strings.ContainsAny(target, " \r\n\t") {
		return fmt.Errorf("%q is not a local path like /password-reset/request or an absolute http(s) URL", target)
	}
	return nil
}

// ErrNotAbsoluteURL is wrapped by CheckServiceURL for a URL that is not an
// absolute http(s) URL.
var ErrNotAbsoluteURL = errors.New("not an absolute http(s) URL")

// CheckServiceURL accepts an absolute URL that this service calls or links
// to: https, or plain http only for a loopback host (localhost, 127.0.0.0/8,
// ::1), without user info (a link with "user@" in it is a phishing pattern).
// A query is allowed only when allowQuery is set.
func CheckServiceURL(raw string, allowQuery bool) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil {
		return fmt.Errorf("%q: %w", raw, ErrNotAbsoluteURL)
	}
	if !allowQuery && (u.RawQuery != "" || u.ForceQuery) {
		return fmt.Errorf("%q must not have a query", raw)
	}
	if u.Scheme == "http" && !IsLoopbackHost(u.Hostname()) {
		return fmt.Errorf("%q must use https (plain http only for localhost)", raw)
	}
	return nil
}

// IsLoopbackHost reports whether host names this machine: "localhost" or a
// loopback IP address.
func IsLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	a, err := netip.ParseAddr(ip)
	return err == nil && a.IsLoopback()
}
