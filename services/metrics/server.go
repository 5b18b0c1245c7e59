package metrics

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Path is where the metrics listener serves the registry.
const Path = "/metrics"

// Server serves GET (and HEAD) /metrics on a listener of its own; every
// other path is a 404 and every other method a 405.
type Server struct {
	ln  net.Listener
	srv *http.Server
}

// Listen binds addr (host:port; port 0 picks a free one) and returns the
// Server that serves m's registry there once Serve runs. Errors: the
// listener's, wrapped.
func (m *Metrics) Listen(addr string) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	mux := http.NewServeMux()
	// GET patterns also match HEAD.
	mux.Handle("GET "+Path, promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		ErrorLog: slog.NewLogLogger(m.log.Handler(), slog.LevelWarn),
		// Counts failed encodings in promhttp_metric_handler_errors_total.
		Registry: m.reg,
		// A scrape is refused rather than piled up: one at a time per
		// scraper is the norm, and each may query the database.
		MaxRequestsInFlight: 4,
		Timeout:             10 * time.Second,
	}))
	return &Server{ln: ln, srv: &http.Server{
		Handler: mux, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second,
		WriteTimeout: 15 * time.Second, IdleTimeout: 60 * time.Second, MaxHeaderBytes: 8 << 10,
		ErrorLog: slog.NewLogLogger(m.log.Handler(), slog.LevelWarn),
	}}, nil
}

// Addr is the address the server listens on, its port resolved.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Serve answers scrapes until Shutdown, after which it returns nil.
func (s *Server) Serve() error {
	if err := s.srv.Serve(s.ln); !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("metrics: %w", err)
	}
	return nil
}

// Shutdown stops accepting scrapes and waits for those in flight, within
// ctx. A Server that never served only closes its listener.
func (s *Server) Shutdown(ctx context.Context) error {
	err := s.srv.Shutdown(ctx)
	s.ln.Close() // already closed when Serve ran
	return err
}
