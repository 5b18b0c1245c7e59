package handlers

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// stallReader gives the start of a body, then fails as a connection whose
// read deadline passed.
type stallReader struct{ r io.Reader }

func (s *stallReader) Read(p []byte) (int, error) {
	if n, err := s.r.Read(p); err != io.EOF {
		return n, err
	}
	return 0, os.ErrDeadlineExceeded
}

// A body that stops arriving is the client's fault: 408 body_timeout, the
// connection closed after it, the request counted against the ceiling like
// any other.
func TestStalledBodyIsRequestTimeout(t *testing.T) {
	r := put(tokenBody)
	r.Body = io.NopCloser(&stallReader{strings.NewReader(`{"token":`)})
	f := newFake()
	rec := serve(f, Options{}, r)
	mustProblem(t, rec, http.StatusRequestTimeout, "body_timeout")
	mustBaseHeaders(t, rec)
	if got := rec.Header().Get("Connection"); got != "close" {
		t.Errorf("got Connection %q, want close", got)
	}
	if got := f.methods(); got != "Admit" {
		t.Errorf("got calls %q, want only Admit", got)
	}
}

// Over a real connection: Content-Length 100, 9 bytes sent, then silence.
// The answer is a 408 within the body's time (half the request timeout),
// heard by the observer as a 408 (never a 5xx), logged at debug only, and
// the ceiling still counted it although net/http ended the request's
// context when the read failed.
func TestStalledBodyOverTheWire(t *testing.T) {
	f := newFake()
	obs := &fakeObserver{}
	var logs bytes.Buffer
	var logMu sync.Mutex
	log := slog.New(slog.NewJSONHandler(lockedWriter{&logMu, &logs}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	srv := httptest.NewServer(New(f, Options{Logger: log, Observer: obs, RequestTimeout: 400 * time.Millisecond}))
	defer srv.Close()

	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// A deadline as a failure: without the body's own deadline the server
	// would wait for this client forever.
	if err := conn.SetDeadline(time.Now().Add(20 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(conn, "PUT "+passwordPath+" HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"+
		"Content-Length: 100\r\n\r\n{\"email\":"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer to a stalled body: %v", err)
	}
	defer resp.Body.Close()
	var p problem
	if err := json.NewDecoder(resp.Body).Decode(&p); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusRequestTimeout || p.Code != "body_timeout" {
		t.Fatalf("got %d %q, want 408 body_timeout", resp.StatusCode, p.Code)
	}
	if !resp.Close {
		t.Error("the connection stays open after a 408; the rest of the body would be read as a request")
	}
	srv.Close() // waits for the handler, and so for the observer and the log

	if got := f.methods(); got != "Admit" {
		t.Errorf("got calls %q, want only Admit", got)
	}
	if f.last(t).client.IP == "" {
		t.Error("Admit was called without the client")
	}
	obs.mu.Lock()
	if len(obs.heard) != 1 || obs.heard[0].status != http.StatusRequestTimeout {
		t.Errorf("observer heard %+v, want one 408", obs.heard)
	}
	obs.mu.Unlock()
	logMu.Lock()
	defer logMu.Unlock()
	for line := range strings.Lines(logs.String()) {
		var rec struct {
			Level, Msg string
		}
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if rec.Level != "DEBUG" {
			t.Errorf("a stalled body was logged at %s: %s", rec.Level, line)
		}
	}
}

// lockedWriter serialises writes to a buffer the test reads.
type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
