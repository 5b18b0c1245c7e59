package handlers

import (
	"errors"
	"math"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/accountpw/accountpw/models"
)

// heard is one ObserveRequest call.
type heard struct {
	op     string
	status int
}

// fakeObserver records every ObserveRequest call.
type fakeObserver struct {
	mu    sync.Mutex
	heard []heard
	slow  bool // an elapsed time of zero or less was heard
}

func (o *fakeObserver) ObserveRequest(op string, status int, elapsed time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.heard = append(o.heard, heard{op, status})
	o.slow = o.slow || elapsed <= 0
}

// Every request is heard once, after its answer, with the operation of a
// PUT's body shape (whatever the answer, the client ceiling's included),
// "other" for a PUT whose body is none of the shapes, "page" and "probe" by
// route, and "other" for every path or method the router does not serve,
// /metrics above all: metrics have a listener of their own and the public
// one never serves them.
func TestObserveRequests(t *testing.T) {
	get := func(path string) *http.Request { return httptest.NewRequest(http.MethodGet, path, nil) }
	withQuery := put(emailBody)
	withQuery.URL.RawQuery = "token=x"
	textPlain := put(tokenBody)
	textPlain.Header.Set("Content-Type", "text/plain")
	rows := []struct {
		name   string
		req    *http.Request
		errs   map[string]error
		panics string
		op     string
		status int
	}{
		{name: "reset requested", req: put(emailBody), op: "request_reset", status: 202},
		{name: "reset requested with a bad address", req: put(emailBody),
			errs: map[string]error{"RequestReset": models.ErrInvalidEmail}, op: "request_reset", status: 400},
		{name: "reset requested over the per-client limit", req: put(emailBody),
			errs: map[string]error{"RequestReset": models.RateLimited(time.Minute)}, op: "request_reset", status: 429},
		{name: "reset requested while the service panics", req: put(emailBody), panics: "RequestReset",
			op: "request_reset", status: 500},
		{name: "reset with a token", req: put(tokenBody), op: "reset", status: 204},
		{name: "reset refused by the policy", req: put(tokenBody),
			errs: map[string]error{"Reset": models.ErrPasswordTooShort}, op: "reset", status: 422},
		{name: "reset without a hashing slot", req: put(tokenBody),
			errs: map[string]error{"Reset": models.ErrHashBusy}, op: "reset", status: 503},
		{name: "change with a bearer", req: withAuth(put(changeBody), "Bearer "+canaryBearer), op: "change", status: 204},
		{name: "change without a bearer", req: put(changeBody), op: "change", status: 401},
		{name: "a reset over the client ceiling", req: put(tokenBody),
			errs: map[string]error{"Admit": models.RateLimited(time.Minute)}, op: "reset", status: 429},
		{name: "a change over the client ceiling", req: put(changeBody),
			errs: map[string]error{"Admit": models.RateLimited(time.Minute)}, op: "change", status: 429},
		{name: "a malformed body over the client ceiling", req: put(`{}`),
			errs: map[string]error{"Admit": models.RateLimited(time.Minute)}, op: "other", status: 429},
		{name: "no member set", req: put(`{}`), op: "other", status: 400},
		{name: "unknown member", req: put(`{"email":"a@b.co","x":1}`), op: "other", status: 400},
		{name: "not JSON", req: textPlain, op: "other", status: 415},
		{name: "a query string", req: withQuery, op: "other", status: 400},
		{name: "the reset page", req: get(pagePath), op: "page", status: 200},
		{name: "the request page", req: get(pageRequestPath), op: "page", status: 200},
		{name: "the page's script", req: get(pageScriptPath), op: "page", status: 200},
		{name: "the page's style", req: get(pageStylePath), op: "page", status: 200},
		{name: "the well-known redirect", req: get(changePassword), op: "page", status: 302},
		{name: "liveness", req: get("/healthz"), op: "probe", status: 200},
		{name: "readiness without a database", req: get("/readyz"),
			errs: map[string]error{"Ready": errors.New("dial tcp: refused")}, op: "probe", status: 503},
		{name: "a method a probe does not take", req: httptest.NewRequest(http.MethodPost, "/healthz", nil), op: "other", status: 405},
		{name: "GET of the resource", req: get(passwordPath), op: "other", status: 405},
		{name: "metrics on the public listener", req: get("/metrics"), op: "other", status: 404},
		{name: "metrics by HEAD on the public listener", req: httptest.NewRequest(http.MethodHead, "/metrics", nil), op: "other", status: 404},
		{name: "an unknown path", req: get("/.env"), op: "other", status: 404},
	}
	for _, r := range rows {
		t.Run(r.name, func(t *testing.T) {
			f := newFake()
			for k, v := range r.errs {
				f.errs[k] = v
			}
			f.panics = r.panics
			obs := &fakeObserver{}
			rec := serve(f, Options{Observer: obs}, r.req)
			if rec.Code != r.status {
				t.Fatalf("answered %d, want %d", rec.Code, r.status)
			}
			obs.mu.Lock()
			defer obs.mu.Unlock()
			if want := (heard{r.op, r.status}); len(obs.heard) != 1 || obs.heard[0] != want || obs.slow {
				t.Fatalf("heard %+v (an elapsed time ≤ 0: %v), want exactly %+v", obs.heard, obs.slow, want)
			}
		})
	}
}

// The router without an Observer still answers 404 for /metrics, and a
// preflight is "other".
func TestMetricsNotOnThePublicRouter(t *testing.T) {
	rec := serve(newFake(), Options{}, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	mustProblem(t, rec, http.StatusNotFound, "not_found")
	if strings.Contains(rec.Body.String(), "# TYPE") {
		t.Fatalf("the public router served metrics: %s", rec.Body)
	}

	obs := &fakeObserver{}
	pre := httptest.NewRequest(http.MethodOptions, passwordPath, nil)
	pre.Header.Set("Origin", "https://allowed.example")
	pre.Header.Set("Access-Control-Request-Method", "PUT")
	serve(newFake(), Options{Observer: obs, CORSOrigins: []string{"https://allowed.example"}}, pre)
	if len(obs.heard) != 1 || obs.heard[0].op != "other" {
		t.Fatalf("a preflight was heard as %+v, want other", obs.heard)
	}
}

// countingObserver only counts, like a metric does.
type countingObserver struct{ n int }

func (o *countingObserver) ObserveRequest(string, int, time.Duration) { o.n++ }

// Observing the {"email"} branch costs one allocation per request: the
// closure Echo v4 makes for every middleware on every request, as it builds
// the chain per request. Nothing else: the operation travels in a pooled
// context, not in Echo's per-request map (which would cost two more). Under
// -race, sync.Pool drops a quarter of what it is given on purpose, which
// adds a quarter of an allocation on average, hence the margin.
func TestObservingCostsOneMiddleware(t *testing.T) {
	// testing.AllocsPerRun rounds its average down to a whole number, so a
	// quarter of an allocation could come out as none or as one; this
	// counts exactly. It counts every allocation of the process, so
	// goroutines an earlier test left behind (a timer, a server winding
	// down) can add a few: the least of several measurements is the
	// request's own.
	allocs := func(opts Options) float64 {
		opts.Logger = discardLogger
		e := New(newFake(), opts)
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
		least := math.Inf(1)
		const runs = 400
		for range 5 {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			for range runs {
				rec := httptest.NewRecorder()
				e.ServeHTTP(rec, put(emailBody))
				if rec.Code != http.StatusAccepted {
					t.Fatalf("got %d, want 202", rec.Code)
				}
			}
			runtime.ReadMemStats(&after)
			least = min(least, float64(after.Mallocs-before.Mallocs)/runs)
		}
		return least
	}
	obs := &countingObserver{}
	plain, observed := allocs(Options{}), allocs(Options{Observer: obs})
	if extra := observed - plain; extra >= 1.5 || obs.n < 2000 {
		t.Fatalf("%.2f allocations per request observed against %.2f without (%d heard), want at most one more", observed, plain, obs.n)
	}
}
