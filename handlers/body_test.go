package handlers

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/accountpw/accountpw/models"
)

// chunked hides the length of a body, as a chunked upload does.
func chunked(r *http.Request) *http.Request {
	r.Body = io.NopCloser(io.MultiReader(r.Body))
	r.ContentLength = -1
	r.TransferEncoding = []string{"chunked"}
	return r
}

// sized returns a {token,new} body of exactly n bytes.
func sized(n int) string {
	frame := `{"token":"","new":"` + canaryNew + `"}`
	return strings.Replace(frame, `""`, `"`+strings.Repeat("t", n-len(frame))+`"`, 1)
}

func TestMediaType(t *testing.T) {
	tests := []struct {
		name        string
		contentType []string
		body        string
		status      int
	}{
		{"plain JSON", []string{"application/json"}, tokenBody, 204},
		{"charset utf-8", []string{"application/json; charset=utf-8"}, tokenBody, 204},
		{"charset in other case", []string{`Application/JSON; Charset="UTF-8"`}, tokenBody, 204},
		{"text/plain", []string{"text/plain"}, tokenBody, 415},
		{"form", []string{"application/x-www-form-urlencoded"}, "email=" + canaryEmail, 415},
		{"xml", []string{"application/xml"}, "<x><email>" + canaryEmail + "</email></x>", 415},
		{"multipart", []string{"multipart/form-data; boundary=x"}, "--x\r\n\r\n" + tokenBody + "\r\n--x--", 415},
		{"missing", nil, tokenBody, 415},
		{"charset latin1", []string{"application/json; charset=latin1"}, tokenBody, 415},
		{"unknown parameter", []string{"application/json; profile=x"}, tokenBody, 415},
		{"charset plus parameter", []string{"application/json; charset=utf-8; x=y"}, tokenBody, 415},
		{"malformed", []string{"application/json; charset"}, tokenBody, 415},
		{"json look-alike", []string{"application/jsonx"}, tokenBody, 415},
		{"two headers", []string{"application/json", "application/json"}, tokenBody, 415},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake()
			r := httptest.NewRequest(http.MethodPut, passwordPath, strings.NewReader(tt.body))
			r.Header["Content-Type"] = tt.contentType
			rec := serve(f, Options{}, r)
			mustBaseHeaders(t, rec)
			if tt.status == 415 {
				mustProblem(t, rec, 415, "unsupported_media_type")
				if got := f.methods(); got != "Admit" {
					t.Errorf("got calls %q, want only Admit", got)
				}
			} else if rec.Code != tt.status {
				t.Errorf("got status %d, want %d; body %s", rec.Code, tt.status, rec.Body)
			}
		})
	}
}

func TestBodySize(t *testing.T) {
	withType := func(ct string, r *http.Request) *http.Request { r.Header.Set("Content-Type", ct); return r }
	tests := []struct {
		name   string
		req    *http.Request
		status int
		code   string
		calls  string
	}{
		{"7 KiB is processed", put(sized(7 << 10)), 204, "", "Admit,Reset"},
		{"exactly 8 KiB is processed", put(sized(8192)), 204, "", "Admit,Reset"},
		{"exactly 8 KiB chunked is processed", chunked(put(sized(8192))), 204, "", "Admit,Reset"},
		{"9 KiB by Content-Length", put(sized(9 << 10)), 413, "body_too_large", "Admit"},
		{"one byte over, chunked", chunked(put(sized(8193))), 413, "body_too_large", "Admit"},
		{"64 KiB chunked", chunked(put(sized(64 << 10))), 413, "body_too_large", "Admit"},
		{"declared too large with a wrong type", withType("text/plain", put(sized(9<<10))),
			413, "body_too_large", "Admit"},
		{"chunked too large with a wrong type", withType("text/plain", chunked(put(sized(9<<10)))),
			415, "unsupported_media_type", "Admit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake()
			rec := serve(f, Options{}, tt.req)
			mustBaseHeaders(t, rec)
			if tt.code != "" {
				mustProblem(t, rec, tt.status, tt.code)
			} else if rec.Code != tt.status {
				t.Fatalf("got status %d, want %d; body %s", rec.Code, tt.status, rec.Body)
			}
			if got := f.methods(); got != tt.calls {
				t.Errorf("got calls %q, want %q", got, tt.calls)
			}
		})
	}
}

func TestBrokenBodyIsClientError(t *testing.T) {
	r := put(tokenBody)
	r.Body = io.NopCloser(io.MultiReader(strings.NewReader(`{"token":`), errReader{}))
	rec := serve(newFake(), Options{}, r)
	mustProblem(t, rec, http.StatusBadRequest, "invalid_body")
}

// errReader fails like a connection that drops mid-body.
type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, io.ErrUnexpectedEOF }

// Every request counts against the per-client ceiling, whatever its body:
// over the ceiling, a malformed or refused body is a 429 too, and the
// service sees nothing but Admit.
func TestCeilingComesFirstForEveryShape(t *testing.T) {
	for _, tt := range []struct {
		name string
		req  *http.Request
	}{
		{"malformed JSON", put(`{"email":`)},
		{"unknown member", put(`{"emial":"a@b.co"}`)},
		{"wrong media type", func() *http.Request { r := put(tokenBody); r.Header.Set("Content-Type", "text/plain"); return r }()},
		{"token shape", put(tokenBody)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake()
			f.errs = map[string]error{"Admit": models.RateLimited(9 * time.Second)}
			rec := serve(f, Options{}, tt.req)
			mustProblem(t, rec, 429, "rate_limited")
			if got := f.methods(); got != "Admit" {
				t.Errorf("got calls %q, want only Admit", got)
			}
		})
	}
}

// Requests to the resource refused before its handler runs count against
// the ceiling too: over it, a query string or another method is its 429,
// and nothing else is asked of the service. Another path's 405 counts
// nothing.
func TestCeilingCountsRefusedRequests(t *testing.T) {
	withQuery := put(emailBody)
	withQuery.URL.RawQuery = "token=x"
	bareQuery := put(emailBody)
	bareQuery.URL.ForceQuery = true
	for _, tt := range []struct {
		name string
		req  *http.Request
	}{
		{"query string", withQuery},
		{"bare question mark", bareQuery},
		{"POST", httptest.NewRequest(http.MethodPost, passwordPath, strings.NewReader(emailBody))},
		{"GET", httptest.NewRequest(http.MethodGet, passwordPath, nil)},
		{"HEAD", httptest.NewRequest(http.MethodHead, passwordPath, nil)},
		{"OPTIONS without CORS", httptest.NewRequest(http.MethodOptions, passwordPath, nil)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake()
			f.errs = map[string]error{"Admit": models.RateLimited(9 * time.Second)}
			rec := serve(f, Options{}, tt.req)
			if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") != "9" {
				t.Errorf("got %d, Retry-After %q; want 429, 9", rec.Code, rec.Header().Get("Retry-After"))
			}
			if got := f.methods(); got != "Admit" {
				t.Errorf("got calls %q, want only Admit", got)
			}
		})
	}
	f := newFake()
	f.errs = map[string]error{"Admit": models.RateLimited(9 * time.Second)}
	if rec := serve(f, Options{}, httptest.NewRequest(http.MethodPost, "/healthz", nil)); rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST /healthz: got %d, want 405", rec.Code)
	}
	if got := f.methods(); got != "" {
		t.Errorf("POST /healthz: got calls %q, want none", got)
	}
}
