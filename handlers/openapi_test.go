package handlers

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
)

// specPath is the API contract at the top of the repository.
const specPath = "../openapi.yaml"

// contract checks every (request, response) pair that serve produces against
// openapi.yaml. TestMain sets it, so every handler test is also a contract
// test; the violations fail the package after the tests ran.
var contract *contractChecker

func TestMain(m *testing.M) {
	c, err := newContractChecker(specPath)
	if err != nil {
		fmt.Fprintf(os.Stderr, "openapi contract: %v\n", err)
		os.Exit(1)
	}
	contract = c
	code := m.Run()
	if msg := c.report(); msg != "" {
		fmt.Fprint(os.Stderr, msg)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

// contractChecker validates exchanges with kin-openapi and collects what does
// not match.
type contractChecker struct {
	doc    *openapi3.T
	router routers.Router
	opts   *openapi3filter.Options

	mu         sync.Mutex
	checked    int
	violations []string
}

// newContractChecker loads and validates the document and builds its router.
func newContractChecker(path string) (*contractChecker, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromFile(path)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", path, err)
	}
	if err := doc.Validate(loader.Context); err != nil {
		return nil, fmt.Errorf("validate %s: %w", path, err)
	}
	// The tests address whatever host httptest picks; the document's server
	// is documentation, so route on paths alone.
	doc.Servers = openapi3.Servers{{URL: "/"}}
	for _, item := range doc.Paths.Map() {
		item.Servers = nil // the admin paths name the admin listener; route them by path too
	}
	// The page and its assets are text, and so are an import's JSON Lines;
	// kin-openapi only knows text/plain.
	for _, ct := range []string{"text/html", "text/javascript", "text/css", "application/x-ndjson"} {
		openapi3filter.RegisterBodyDecoder(ct, openapi3filter.PlainBodyDecoder)
	}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		return nil, fmt.Errorf("router for %s: %w", path, err)
	}
	return &contractChecker{doc: doc, router: router, opts: &openapi3filter.Options{
		AuthenticationFunc:      openapi3filter.NoopAuthenticationFunc, // the handler tests cover the bearer
		IncludeResponseStatus:   true,                                  // a status the document does not list is a violation
		MultiError:              true,
		SchemaValidationOptions: []openapi3.SchemaValidationOption{openapi3.EnableJSONSchema2020()},
	}}, nil
}

// capture makes r record the bytes the handler reads from its body, without
// reading anything itself: the body tests depend on exactly how much of a
// body is read, and when.
func (c *contractChecker) capture(r *http.Request) *bytes.Buffer {
	if c == nil {
		return nil
	}
	var buf bytes.Buffer
	if r.Body != nil && r.Body != http.NoBody {
		r.Body = struct {
			io.Reader
			io.Closer
		}{io.TeeReader(r.Body, &buf), r.Body}
	}
	return &buf
}

// observe validates one exchange and records a violation if it does not
// match the document.
func (c *contractChecker) observe(r *http.Request, body *bytes.Buffer, rec *httptest.ResponseRecorder) {
	if c == nil {
		return
	}
	err := c.check(r, body.Bytes(), rec)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.checked++
	if err != nil {
		c.violations = append(c.violations, fmt.Sprintf("%s %s → %d: %v", r.Method, r.URL.RequestURI(), rec.Code, err))
	}
}

// check is the rule: the response must match the document. The request must
// too, unless the document rejects it; then the answer must be a 4xx status
// the operation lists (the service is stricter than any schema: duplicate
// members, bad UTF-8 and query strings also get their 400).
func (c *contractChecker) check(r *http.Request, body []byte, rec *httptest.ResponseRecorder) error {
	ctx := context.Background()
	req := r.Clone(ctx)
	req.Body = io.NopCloser(bytes.NewReader(body))
	route, params, err := c.router.FindRoute(req)
	switch {
	case errors.Is(err, routers.ErrPathNotFound):
		return c.checkProblem(rec, http.StatusNotFound, "not_found")
	case errors.Is(err, routers.ErrMethodNotAllowed):
		// The password resource counts refused methods against the client
		// ceiling first (its description says so): over the ceiling, or
		// without a database to count in, that answer comes instead.
		switch {
		case rec.Code == http.StatusTooManyRequests && rec.Header().Get("Retry-After") != "":
			return c.checkProblem(rec, http.StatusTooManyRequests, "rate_limited")
		case rec.Code == http.StatusServiceUnavailable && rec.Header().Get("Retry-After") != "":
			return c.checkProblem(rec, http.StatusServiceUnavailable, "unavailable")
		case rec.Header().Get("Allow") == "":
			return errors.New("405 without an Allow header")
		}
		return c.checkProblem(rec, http.StatusMethodNotAllowed, "method_not_allowed")
	case err != nil:
		return fmt.Errorf("find route: %w", err)
	}
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route, Options: c.opts}
	reqErr := openapi3filter.ValidateRequest(ctx, in)
	if reqErr != nil {
		if rec.Code < 400 || rec.Code > 499 || route.Operation.Responses.Status(rec.Code) == nil {
			return fmt.Errorf("the document rejects the request (%w), but the answer is %d, not a listed 4xx", reqErr, rec.Code)
		}
	}
	out := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in, Status: rec.Code, Header: rec.Header(),
		Body: io.NopCloser(bytes.NewReader(rec.Body.Bytes())), Options: c.opts,
	}
	if r.Method == http.MethodHead {
		return nil // no body to check against the GET's
	}
	return openapi3filter.ValidateResponse(ctx, out)
}

// checkProblem validates answers to requests the document has no operation
// for: they must be the given problem.
func (c *contractChecker) checkProblem(rec *httptest.ResponseRecorder, status int, code string) error {
	if rec.Code != status {
		return fmt.Errorf("got %d for a path or method the document does not list, want %d", rec.Code, status)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/problem+json" {
		return fmt.Errorf("got Content-Type %q, want application/problem+json", ct)
	}
	if rec.Body.Len() == 0 {
		return nil // HEAD
	}
	var value any
	if err := json.Unmarshal(rec.Body.Bytes(), &value); err != nil {
		return fmt.Errorf("problem body: %w", err)
	}
	schema := c.doc.Components.Schemas["Problem"].Value
	if err := schema.VisitJSON(value, openapi3.EnableJSONSchema2020()); err != nil {
		return fmt.Errorf("problem body: %w", err)
	}
	if got := value.(map[string]any)["code"]; got != code {
		return fmt.Errorf("got code %v, want %s", got, code)
	}
	return nil
}

// report summarises the run; empty when everything matched.
func (c *contractChecker) report() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.violations) == 0 {
		return ""
	}
	return "openapi contract: " + strconv.Itoa(len(c.violations)) + " of " + strconv.Itoa(c.checked) +
		" exchanges do not match " + specPath + ":\n  " + strings.Join(c.violations, "\n  ") + "\n"
}

func TestOpenAPIContractCoversTheRoutes(t *testing.T) {
	e := New(newFake(), Options{})
	for _, r := range e.Routes() {
		req := httptest.NewRequest(r.Method, r.Path, nil)
		if _, _, err := contract.router.FindRoute(req); err != nil {
			t.Errorf("route %s %s is not in %s: %v", r.Method, r.Path, specPath, err)
		}
	}
}

// TestOpenAPIContractCatchesDrift makes sure the checker is not vacuous:
// answers that break the document are reported.
func TestOpenAPIContractCatchesDrift(t *testing.T) {
	respond := func(status int, ct, body string, headers ...string) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		rec.Header().Set("X-Request-Id", "abc")
		rec.Header().Set("Cache-Control", "no-store")
		for i := 0; i+1 < len(headers); i += 2 {
			rec.Header().Set(headers[i], headers[i+1])
		}
		if ct != "" {
			rec.Header().Set("Content-Type", ct)
		}
		rec.WriteHeader(status)
		rec.Body.WriteString(body)
		return rec
	}
	problemOf := func(status int, code string) string {
		return fmt.Sprintf(`{"type":"https://accountpw.dev/problems/%s","title":"t","status":%d,"detail":"d","code":%q,"request_id":"abc"}`, code, status, code)
	}
	tests := []struct {
		name string
		req  *http.Request
		body string
		rec  *httptest.ResponseRecorder
	}{
		{"undocumented status", put(tokenBody), tokenBody, respond(409, "application/problem+json", problemOf(409, "conflict"))},
		{"code of another status", put(tokenBody), tokenBody, respond(403, "application/problem+json", problemOf(403, "invalid_body"))},
		{"problem with an extra member", put(tokenBody), tokenBody, respond(403, "application/problem+json",
			strings.Replace(problemOf(403, "invalid_token"), `{`, `{"stack":"x",`, 1))},
		{"202 with another body", put(emailBody), emailBody, respond(202, "application/json", `{"status":"accepted","detail":"An email was sent."}`)},
		{"429 without Retry-After", put(tokenBody), tokenBody, respond(429, "application/problem+json", problemOf(429, "rate_limited"))},
		{"401 without WWW-Authenticate", put(changeBody), changeBody, respond(401, "application/problem+json", problemOf(401, "unauthenticated"))},
		{"204 without Cache-Control", put(tokenBody), tokenBody, func() *httptest.ResponseRecorder {
			rec := respond(204, "", "")
			rec.Header().Del("Cache-Control")
			return rec
		}()},
		{"rejected request answered 204", put(`{"token":"t","new":"n","admin":true}`), `{"token":"t","new":"n","admin":true}`, respond(204, "", "")},
		{"unknown path answered 200", httptest.NewRequest(http.MethodGet, "/nope", nil), "", respond(200, "text/plain", "hi")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := contract.check(tt.req, []byte(tt.body), tt.rec); err == nil {
				t.Error("got no violation, want one")
			}
		})
	}
	if err := contract.check(put(tokenBody), []byte(tokenBody), respond(204, "", "")); err != nil {
		t.Errorf("a correct 204 was reported: %v", err)
	}
}
