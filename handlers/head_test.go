package handlers

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/accountpw/accountpw/models"
)

// Over a real connection, HEAD answers every path with the GET's status and
// headers, Content-Length included, and no body: probes, pages, the
// redirect, a failing probe, an unknown path and a refused method alike.
// (net/http computes a Content-Length only for a body it has seen, and a
// HEAD handler writes none, so each answer must state its own.)
func TestHeadAnswersLikeGetOverTheWire(t *testing.T) {
	for _, tt := range []struct {
		name, path string
		ready      error
	}{
		{"liveness", "/healthz", nil},
		{"readiness", "/readyz", nil},
		{"readiness failing", "/readyz", errors.Join(models.ErrUnavailable, errors.New("db down"))},
		{"reset page", pagePath, nil},
		{"request page", pageRequestPath, nil},
		{"page script", pageScriptPath, nil},
		{"page style", pageStylePath, nil},
		{"well-known redirect", changePassword, nil},
		{"unknown path", "/nope", nil},
		{"password resource", passwordPath, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake()
			f.errs["Ready"] = tt.ready
			srv := httptest.NewServer(New(f, Options{Logger: discardLogger}))
			defer srv.Close()
			// No connection outlives the test: later tests count the
			// process's allocations.
			tr := &http.Transport{DisableKeepAlives: true}
			defer tr.CloseIdleConnections()
			client := &http.Client{Transport: tr,
				CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			do := func(method string) (*http.Response, []byte) {
				req, err := http.NewRequest(method, srv.URL+tt.path, nil)
				if err != nil {
					t.Fatal(err)
				}
				req.Header.Set("X-Request-Id", "head-vs-get")
				resp, err := client.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				body, err := io.ReadAll(resp.Body)
				if err != nil {
					t.Fatal(err)
				}
				return resp, body
			}
			get, getBody := do(http.MethodGet)
			head, headBody := do(http.MethodHead)
			if head.StatusCode != get.StatusCode {
				t.Errorf("HEAD %d, GET %d", head.StatusCode, get.StatusCode)
			}
			if len(headBody) != 0 {
				t.Errorf("HEAD has a body of %d bytes", len(headBody))
			}
			cl := get.Header.Get("Content-Length")
			if cl == "" || cl != head.Header.Get("Content-Length") {
				t.Errorf("Content-Length: GET %q (body %d bytes), HEAD %q; want the same, present",
					cl, len(getBody), head.Header.Get("Content-Length"))
			}
			for _, name := range []string{"Content-Type", "Cache-Control", "Location", "Allow", "Retry-After", "Content-Language"} {
				if g, h := get.Header.Get(name), head.Header.Get(name); g != h {
					t.Errorf("%s: GET %q, HEAD %q", name, g, h)
				}
			}
		})
	}
}
