package handlers

import (
	"slices"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
)

// Observer hears the outcome of every request, for metrics; main passes the
// metrics package's, handler tests a fake.
type Observer interface {
	// ObserveRequest is called once per request, after its answer is
	// written. operation is one of:
	//
	//	request_reset, reset, change  the body shape of a PUT (whatever the answer, the client ceiling's 429 included)
	//	page                          the reset pages, their assets, the well-known redirect
	//	probe                         /healthz and /readyz
	//	other                         anything else, a PUT whose body is not one of the shapes included
	//
	// status is the answer's status and elapsed the time the router took.
	// It runs on every request and must neither block nor keep anything
	// of the request.
	ObserveRequest(operation string, status int, elapsed time.Duration)
}

// The operations Observer hears. They are a public contract (the metrics'
// label values): rename none.
const (
	opRequestReset = "request_reset"
	opReset        = "reset"
	opChange       = "change"
	opPage         = "page"
	opProbe        = "probe"
	opOther        = "other"
)

// routeOperations names the operation of the routes that have one by their
// path alone; the password resource's is known only after dispatch
// (setOperation).
var routeOperations = map[string]string{
	pagePath: opPage, pageRequestPath: opPage, pageScriptPath: opPage, pageStylePath: opPage,
	changePassword: opPage, "/healthz": opProbe, "/readyz": opProbe,
}

// observed is the echo.Context a request has while observe runs: the
// handler records the operation it dispatched on in it. They are pooled, as
// Echo pools its contexts, so that observing a request allocates nothing
// beyond the closure Echo v4 builds for every middleware on every request
// (c.Set would add a map per request).
type observed struct {
	echo.Context
	op string
}

var observedPool = sync.Pool{New: func() any { return new(observed) }}

// observe tells obs the operation, status and duration of every request. It
// is the outermost middleware, so the status is the one written, after the
// access log has turned any error into its problem response. A method not
// registered on a path (405) is "other", whatever the path.
func observe(obs Observer, allow map[string][]string) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			start := time.Now()
			o := observedPool.Get().(*observed)
			o.Context, o.op = c, ""
			err := next(o)
			op := o.op
			o.Context = nil
			observedPool.Put(o)
			if op == "" && slices.Contains(allow[c.Path()], c.Request().Method) {
				op = routeOperations[c.Path()]
			}
			if op == "" {
				op = opOther
			}
			obs.ObserveRequest(op, c.Response().Status, time.Since(start))
			return err
		}
	}
}

// operationOf names the operation of a body's member set: the three shapes
// the password resource dispatches on, and "" (other) for any other set.
func operationOf(set members) string {
	switch set {
	case hasEmail:
		return opRequestReset
	case hasToken | hasNew:
		return opReset
	case hasOld | hasNew:
		return opChange
	}
	return ""
}

// setOperation records the operation a handler dispatched on, for observe;
// without an Observer there is nothing to record it in.
func setOperation(c echo.Context, op string) {
	if o, ok := c.(*observed); ok {
		o.op = op
	}
}
