package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
)

// contractClient is the HTTP client of the end-to-end tests: every exchange
// it makes with the service is checked against openapi.yaml, like the
// handler tests' exchanges are. Requests the document rejects must get a
// 4xx it lists; every response must match.
var contractClient = &http.Client{Transport: &contractTransport{next: http.DefaultTransport}}

type contractTransport struct {
	next       http.RoundTripper
	once       sync.Once
	router     routers.Router
	loadErr    error
	mu         sync.Mutex
	violations []string
}

var contract = contractClient.Transport.(*contractTransport)

func TestMain(m *testing.M) {
	// Load the document now, from the package directory: tests that
	// t.Chdir to a temporary directory may be the first to use the client.
	contract.once.Do(contract.load)
	code := m.Run()
	if len(contract.violations) > 0 {
		fmt.Fprintf(os.Stderr, "openapi.yaml does not describe %d end-to-end exchanges:\n", len(contract.violations))
		for _, v := range contract.violations {
			fmt.Fprintln(os.Stderr, "  "+v)
		}
		code = max(code, 1)
	}
	os.Exit(code)
}

func (c *contractTransport) load() {
	// An admin import's JSON Lines are text; kin-openapi only knows text/plain.
	openapi3filter.RegisterBodyDecoder("application/x-ndjson", openapi3filter.PlainBodyDecoder)
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromFile("openapi.yaml")
	if err == nil {
		err = doc.Validate(loader.Context)
	}
	if err != nil {
		c.loadErr = err
		return
	}
	doc.Servers = openapi3.Servers{{URL: "/"}}
	for _, item := range doc.Paths.Map() {
		item.Servers = nil // the admin paths name the admin listener; route them by path too
	}
	c.router, c.loadErr = gorillamux.NewRouter(doc)
}

func (c *contractTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.once.Do(c.load)
	var reqBody []byte
	if r.Body != nil {
		reqBody, _ = io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(reqBody))
	}
	resp, err := c.next.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	respBody, _ := io.ReadAll(resp.Body)
	resp.Body = io.NopCloser(bytes.NewReader(respBody))
	if verr := c.check(r, reqBody, resp, respBody); verr != nil {
		c.mu.Lock()
		c.violations = append(c.violations, fmt.Sprintf("%s %s → %d: %v", r.Method, r.URL.Path, resp.StatusCode, verr))
		c.mu.Unlock()
	}
	return resp, nil
}

func (c *contractTransport) check(r *http.Request, reqBody []byte, resp *http.Response, respBody []byte) error {
	if c.loadErr != nil {
		return c.loadErr
	}
	ctx := context.Background()
	req := r.Clone(ctx)
	req.Body = io.NopCloser(bytes.NewReader(reqBody))
	route, params, err := c.router.FindRoute(req)
	if err != nil {
		return fmt.Errorf("not in the document: %w", err)
	}
	opts := &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc,
		IncludeResponseStatus: true, MultiError: true,
		SchemaValidationOptions: []openapi3.SchemaValidationOption{openapi3.EnableJSONSchema2020()}}
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route, Options: opts}
	if reqErr := openapi3filter.ValidateRequest(ctx, in); reqErr != nil &&
		(resp.StatusCode/100 != 4 || route.Operation.Responses.Status(resp.StatusCode) == nil) {
		return fmt.Errorf("the document rejects the request (%w), but the answer is %d", reqErr, resp.StatusCode)
	}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: resp.StatusCode,
		Header: resp.Header, Options: opts}
	out.SetBodyBytes(respBody)
	return openapi3filter.ValidateResponse(ctx, out)
}

// The checker itself must be able to fail: an answer the document does not
// describe is recorded as a violation.
func TestContractCheckerDetectsDrift(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK) // the document lists 202 and 204, never 200
		w.Write([]byte(`{"x":1}`))
	}))
	defer srv.Close()
	tr := &contractTransport{next: http.DefaultTransport}
	req, _ := http.NewRequest(http.MethodPut, srv.URL+"/api/v1/account/password", bytes.NewReader([]byte(`{"email":"a@b.co"}`)))
	req.Header.Set("Content-Type", "application/json")
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if len(tr.violations) != 1 {
		t.Fatalf("got %d violations, want 1 for an undocumented 200", len(tr.violations))
	}
}
