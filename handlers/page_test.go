package handlers

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

// canaryPageToken stands for the token of an emailed link.
const canaryPageToken = "canary-page-tok-4e7bQ"

// mustPageHeaders checks the headers of the page and its assets.
func mustPageHeaders(t *testing.T, rec *httptest.ResponseRecorder) {
	t.Helper()
	for name, want := range map[string]string{
		"Content-Security-Policy": pageCSP,
		"Referrer-Policy":         "no-referrer",
		"Cache-Control":           "no-store",
		"X-Content-Type-Options":  "nosniff",
		"X-Frame-Options":         "DENY",
	} {
		if got := rec.Header().Get(name); got != want {
			t.Errorf("got %s %q, want %q", name, got, want)
		}
	}
	for _, name := range []string{"ETag", "Last-Modified", "Set-Cookie", "Server"} {
		if got := rec.Header().Get(name); got != "" {
			t.Errorf("got %s %q, want none", name, got)
		}
	}
}

func TestPage(t *testing.T) {
	tests := []struct {
		name, target, contentType string
	}{
		{"link with token", pagePath + "?token=" + canaryPageToken, "text/html; charset=UTF-8"},
		{"no token", pagePath, "text/html; charset=UTF-8"},
		{"request form", pageRequestPath, "text/html; charset=UTF-8"},
		{"script", pageScriptPath, "text/javascript; charset=utf-8"},
		{"style sheet", pageStylePath, "text/css; charset=utf-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake()
			rec := serve(f, Options{}, httptest.NewRequest(http.MethodGet, tt.target, nil))
			if rec.Code != http.StatusOK {
				t.Fatalf("got status %d, want 200; body %s", rec.Code, rec.Body)
			}
			mustPageHeaders(t, rec)
			if got := rec.Header().Get("Content-Type"); got != tt.contentType {
				t.Errorf("got Content-Type %q, want %q", got, tt.contentType)
			}
			// Only the HTML differs by language.
			html := strings.HasPrefix(tt.contentType, "text/html")
			if got := rec.Header().Get("Vary") == "Accept-Language" && rec.Header().Get("Content-Language") == "en"; got != html {
				t.Errorf("got Vary %q, Content-Language %q; want Accept-Language and en only on the HTML",
					rec.Header().Get("Vary"), rec.Header().Get("Content-Language"))
			}
			if strings.Contains(rec.Body.String(), canaryPageToken) {
				t.Error("the token is rendered into the answer; only the page's script may read it")
			}
			if got := f.methods(); got != "" {
				t.Errorf("loading the page called %q, want nothing: the page calls the API only when the person submits", got)
			}
		})
	}
}

func TestPageHTMLNeedsNothingInlineOrThirdParty(t *testing.T) {
	for lang, p := range mustLocalizedPages(defaultProductName, "") {
		t.Run(lang, func(t *testing.T) { mustSelfContainedPage(t, string(p.body)) })
	}
}

// The page names the product as the emails do, leads to the configured
// sign-in page once a reset succeeded (the link is in the page, hidden until
// then), and gives password managers an empty username field.
func TestPageNamesProductAndLeadsToSignIn(t *testing.T) {
	const signIn = "https://app.example.org/sign-in?from=reset&lang=x"
	tests := []struct {
		name     string
		opts     Options
		product  string // as escaped into the page
		signIn   string // the link's escaped href; "" for no link
		language string
		linkText string
	}{
		{"defaults", Options{}, "accountpw", "", "en", ""},
		{"product and sign-in page", Options{ProductName: "Acme <Cloud> & Co", SignInURL: signIn},
			"Acme &lt;Cloud&gt; &amp; Co", "https://app.example.org/sign-in?from=reset&amp;lang=x", "en", ">Continue to sign in</a>"},
		{"in German", Options{ProductName: "Acme", SignInURL: signIn}, "Acme", "https://app.example.org/sign-in?from=reset&amp;lang=x",
			"de", ">Weiter zur Anmeldung</a>"},
		{"in French", Options{ProductName: "Acme", SignInURL: signIn}, "Acme", "https://app.example.org/sign-in?from=reset&amp;lang=x",
			"fr", ">Continuer vers la connexion</a>"},
		{"in Spanish", Options{ProductName: "Acme", SignInURL: signIn}, "Acme", "https://app.example.org/sign-in?from=reset&amp;lang=x",
			"es", ">Continuar al inicio de sesión</a>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, pagePath+"?token="+canaryPageToken, nil)
			r.Header.Set("Accept-Language", tt.language)
			html := serve(newFake(), tt.opts, r).Body.String()
			for _, want := range []string{
				`<title>` + regexp.MustCompile(`<title>([^·<]*) · `).FindStringSubmatch(html)[1] + ` · ` + tt.product + `</title>`,
				`<p id="product" class="product">` + tt.product + `</p>`,
				`<input id="username" name="username" type="text" autocomplete="username" hidden>`,
			} {
				if !strings.Contains(html, want) {
					t.Errorf("page lacks %s", want)
				}
			}
			// Empty on purpose: the page cannot know the account's address.
			if m := regexp.MustCompile(`<input id="username"[^>]*>`).FindString(html); strings.Contains(m, "value=") {
				t.Errorf("the username field has a value: %s", m)
			}
			_, form, _ := strings.Cut(html, `<form id="reset-form"`)
			form, _, _ = strings.Cut(form, "</form>")
			if !strings.Contains(form, `autocomplete="username"`) {
				t.Error("the username field is not in the reset form")
			}
			link := regexp.MustCompile(`<p id="sign-in" class="next" hidden><a class="action" href="([^"]*)"[^>]*>[^<]*</a></p>`).FindStringSubmatch(html)
			switch {
			case tt.signIn == "" && (link != nil || strings.Contains(html, `id="sign-in"`)):
				t.Errorf("no sign-in URL, but the page has a link: %v", link)
			case tt.signIn != "" && (link == nil || link[1] != tt.signIn || !strings.Contains(link[0], tt.linkText)):
				t.Errorf("got sign-in link %v, want href %s and %s, hidden until the reset succeeded", link, tt.signIn, tt.linkText)
			}
		})
	}
}

func TestBadSignInURLPanics(t *testing.T) {
	for _, target := range []string{"/sign-in", "javascript:alert(1)", "http://app.example.org/sign-in", "https://a@evil.example/"} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("sign-in URL %q: got no panic, want one", target)
				}
			}()
			New(newFake(), Options{SignInURL: target})
		}()
	}
}

func mustSelfContainedPage(t *testing.T, html string) {
	t.Helper()
	for _, want := range []string{
		`<meta name="referrer" content="no-referrer">`,
		`<script src="/password-reset/app.js" defer></script>`,
		`<link rel="stylesheet" href="/password-reset/app.css">`,
		`autocomplete="new-password"`,
		`role="alert"`,
		`aria-live=`,
		`<label for="new-password">`,
		`<label for="confirm-password">`,
		`<label for="email">`,
		`<template id="messages">`,
	} {
		if !strings.Contains(html, want) {
			t.Errorf("page lacks %s", want)
		}
	}
	forbidden := map[string]*regexp.Regexp{
		"inline script":          regexp.MustCompile(`<script(?:\s[^>]*)?>\s*[^<\s]`),
		"script without src":     regexp.MustCompile(`<script(?:\s(?:[^s>]|s[^r])*)?>`),
		"inline style element":   regexp.MustCompile(`<style`),
		"style attribute":        regexp.MustCompile(`\sstyle=`),
		"event handler":          regexp.MustCompile(`\son[a-z]+=`),
		"absolute URL":           regexp.MustCompile(`(?:src|href|action)="(?:https?:)?//`),
		"javascript: URL":        regexp.MustCompile(`javascript:`),
		"server-side templating": regexp.MustCompile(`\{\{`),
	}
	for name, re := range forbidden {
		if loc := re.FindStringIndex(html); loc != nil {
			t.Errorf("page has %s: %q", name, html[loc[0]:min(loc[1]+20, len(html))])
		}
	}
}

func TestPageScriptNeedsNothingThirdParty(t *testing.T) {
	for name, body := range map[string][]byte{"script": pageScript.body, "style": pageStyle.body} {
		if regexp.MustCompile(`https?://`).Match(body) || bytes.Contains(body, []byte("@import")) {
			t.Errorf("%s refers to another origin", name)
		}
	}
	for _, want := range []string{"history.replaceState", "'/api/v1/account/password'", "method: 'PUT'", "Retry-After", "invalid_token"} {
		if !bytes.Contains(pageScript.body, []byte(want)) {
			t.Errorf("script lacks %s", want)
		}
	}
}

func TestPageMethods(t *testing.T) {
	for _, path := range []string{pagePath, pageRequestPath, pageScriptPath, pageStylePath, changePassword} {
		for _, method := range []string{http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodOptions} {
			rec := serve(newFake(), Options{}, httptest.NewRequest(method, path, nil))
			if rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") != "GET, HEAD" {
				t.Errorf("%s %s: got %d, Allow %q; want 405, GET, HEAD", method, path, rec.Code, rec.Header().Get("Allow"))
			}
			mustBaseHeaders(t, rec)
			mustProblem(t, rec, http.StatusMethodNotAllowed, "method_not_allowed")
		}
	}
}

func TestPageCSPStaysOnThePage(t *testing.T) {
	// The API and the probes keep their own "default-src 'none'".
	for _, r := range []*http.Request{put(emailBody), httptest.NewRequest(http.MethodGet, "/healthz", nil),
		httptest.NewRequest(http.MethodGet, "/password-reset/other", nil)} {
		rec := serve(newFake(), Options{}, r)
		mustBaseHeaders(t, rec)
	}
	// The page takes a query string; the API refuses one.
	r := httptest.NewRequest(http.MethodPut, passwordPath+"?token="+canaryPageToken, strings.NewReader(tokenBody))
	r.Header.Set("Content-Type", "application/json")
	mustProblem(t, serve(newFake(), Options{}, r), http.StatusBadRequest, "query_not_allowed")
}

func TestChangePasswordRedirect(t *testing.T) {
	tests := []struct{ name, option, want string }{
		{"default: the built-in request form", "", pageRequestPath},
		{"local path", "/account/security", "/account/security"},
		{"absolute URL", "https://app.example.com/settings/password", "https://app.example.com/settings/password"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake()
			rec := serve(f, Options{ChangePasswordURL: tt.option}, httptest.NewRequest(http.MethodGet, changePassword, nil))
			if rec.Code != http.StatusFound || rec.Header().Get("Location") != tt.want {
				t.Errorf("got %d Location %q, want 302 %q", rec.Code, rec.Header().Get("Location"), tt.want)
			}
			mustBaseHeaders(t, rec)
			if got := f.methods(); got != "" {
				t.Errorf("got calls %q, want none", got)
			}
		})
	}
}

func TestBadChangePasswordURLPanics(t *testing.T) {
	for _, target := range []string{"//evil.example/x", "evil.example", "javascript:alert(1)", "ftp://a.example/",
		`/\evil.example`, "https://", "/a b", "/x\r\nSet-Cookie: a=b"} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("change-password URL %q: got no panic, want one", target)
				}
			}()
			New(newFake(), Options{ChangePasswordURL: target})
		}()
	}
}

func TestPageAccessLogHoldsNoToken(t *testing.T) {
	var buf bytes.Buffer
	e := New(newFake(), Options{Logger: slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	for _, target := range []string{pagePath + "?token=" + canaryPageToken, pagePath + "?x=1&token=" + canaryPageToken + "#frag"} {
		e.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, target, nil))
	}
	e.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, pagePath+"?token="+canaryPageToken, nil))
	logs := strings.TrimSpace(buf.String())
	if strings.Contains(logs, canaryPageToken) || strings.Contains(logs, "token=") {
		t.Fatalf("logs contain the token:\n%s", logs)
	}
	lines := strings.Split(logs, "\n")
	if len(lines) != 3 {
		t.Fatalf("got %d log lines, want 3:\n%s", len(lines), logs)
	}
	for _, line := range lines {
		var entry map[string]any
		if err := json.Unmarshal([]byte(line), &entry); err != nil {
			t.Fatalf("log line %q is not JSON: %v", line, err)
		}
		if entry["msg"] != "http" || entry["route"] != pagePath {
			t.Errorf("got log line %v, want an access line with route %s", entry, pagePath)
		}
	}
}
