// Command accountpw serves PUT /api/v1/account/password: reset a forgotten
// password by email, or change a known one with a bearer session.
//
// main.go holds only main, run and serve: the command line (cobra) is
// services/cli, which calls back into serve, the one command that wires the
// HTTP layer; the application is built by services.Open.
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/accountpw/accountpw/handlers"
	"github.com/accountpw/accountpw/services"
	"github.com/accountpw/accountpw/services/cli"
	"github.com/accountpw/accountpw/services/config"
	"github.com/accountpw/accountpw/services/metrics"
	"github.com/accountpw/accountpw/services/store"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Environ(), os.Stdin, os.Stdout, os.Stderr, limitMemory)
	stop()
	os.Exit(cli.ExitCode(err)) // run has reported the failure on stderr
}

// limitMemory sets serve's soft Go memory limit (services.App.MemoryLimit),
// unless GOMEMLIMIT is set: the garbage collector then works harder as the
// process nears its memory budget instead of letting garbage grow with the
// heap.
func limitMemory(budget int64) {
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(budget)
	}
}

// run is main without the process: tests call it directly. environ is
// os.Environ's "NAME=value" list. limit, when not nil, receives serve's
// memory budget; it is process-wide, so tests pass nil. A failure is
// reported on stderr and returned as an error whose exit status
// cli.ExitCode gives (1 failed, 2 wrong command line).
func run(ctx context.Context, args, environ []string, stdin io.Reader, stdout, stderr io.Writer,
	limit func(int64)) error {
	env := cli.Env{Environ: environ, Stdin: stdin, Stdout: stdout, Stderr: stderr}
	// A command's database work is bounded by whoever runs it (an operator
	// interrupts a long import): the store's few seconds per statement are
	// for requests, whose contexts come from the HTTP server, never from this.
	ctx = store.BoundByCaller(ctx)
	// The command tree lives in services/cli; only serve is here, because
	// only main may wire handlers.
	return cli.Run(ctx, args, env, func(ctx context.Context, cfg config.Config, log *slog.Logger) error {
		return serve(ctx, cfg, log, limit)
	})
}

func serve(ctx context.Context, cfg config.Config, log *slog.Logger, limit func(int64)) error {
	opts := services.Options{Migrate: cfg.Database.Migrate}
	var (
		m        *metrics.Metrics
		observer handlers.Observer // a nil interface unless metrics are on, never a typed nil
	)
	if cfg.Metrics.Enabled() {
		b := cli.ReadBuild()
		m = metrics.New(metrics.Build{Version: b.Version, Revision: b.Revision}, log,
			metrics.Options{MergeResetOutcomes: cfg.Metrics.MergeResetOutcomes})
		opts.Observer, observer = m, m
	}
	a, err := services.Open(ctx, cfg, log, opts)
	if err != nil {
		return err
	}
	defer a.Close()
	var ms *metrics.Server
	if m != nil {
		m.WatchQueue(a.DB)
		m.WatchReady(a.Passwords.Ready)
		if ms, err = m.Listen(cfg.Metrics.Addr); err != nil {
			return err
		}
		defer ms.Shutdown(context.Background()) //nolint:errcheck // closes the listener if serve fails before serving
	}
	if limit != nil {
		limit(a.MemoryLimit())
	}
	start := time.Now()
	if err := a.WarmUp(ctx); err != nil {
		return fmt.Errorf("serve: warm up hashing: %w", err)
	}
	log.Info("hashing memory mapped", slog.Float64("ms", float64(time.Since(start).Microseconds())/1000),
		slog.Int64("memory_budget_mib", a.MemoryBudget()>>20), slog.Bool("heap_laid_out", a.HeapLaidOut()))
	proxies, _ := cfg.HTTP.TrustedProxyPrefixes() // validated by config.Load
	public := &listener{name: "listening", addr: cfg.HTTP.Addr, cert: cfg.HTTP.TLSCert, key: cfg.HTTP.TLSKey,
		srv: httpServer(handlers.New(a.Passwords, handlers.Options{
			Logger: log, TrustedProxies: proxies, CORSOrigins: cfg.HTTP.CORSAllowedOrigins,
			TLS: cfg.HTTP.TLS(), ChangePasswordURL: cfg.HTTP.ChangePasswordURL, DefaultLanguage: cfg.Mail.DefaultLocale,
			ProductName: strings.TrimSpace(cfg.Mail.ProductName), SignInURL: cfg.Reset.SignInURL,
			Observer: observer,
		}), log)}
	listeners := []*listener{public}
	if cfg.Admin.Enabled() {
		var adminObserver handlers.AdminObserver // a nil interface unless metrics are on
		if m != nil {
			adminObserver = m
		}
		listeners = append(listeners, &listener{name: "admin listening", addr: cfg.Admin.Addr, cert: cfg.Admin.TLSCert,
			key: cfg.Admin.TLSKey, srv: httpServer(handlers.NewAdmin(a.Passwords, handlers.AdminOptions{
				Logger: log, Keys: cfg.Admin.Keys(), TrustedProxies: proxies, TLS: cfg.Admin.TLS(),
				Observer: adminObserver,
			}), log)})
	}
	for i, l := range listeners {
		if l.ln, err = net.Listen("tcp", l.addr); err != nil {
			for _, opened := range listeners[:i] {
				opened.ln.Close()
			}
			return fmt.Errorf("serve: %w", err)
		}
	}
	if err := a.Queue.Start(ctx); err != nil {
		for _, l := range listeners {
			l.ln.Close()
		}
		return err
	}
	errc := make(chan error, len(listeners)+1)
	if ms != nil {
		go func() { errc <- ms.Serve() }()
		log.Info("metrics listening", slog.String("addr", ms.Addr()), slog.String("path", metrics.Path))
	}
	for _, l := range listeners {
		go func() { errc <- l.serve() }()
		log.Info(l.name, slog.String("addr", l.ln.Addr().String()), slog.Bool("tls", l.cert != ""))
	}
	log.Info("serving", slog.Bool("postgres", a.DB.Postgres()), slog.String("mail_provider", cfg.Mail.Provider))

	select {
	case err = <-errc:
	case <-ctx.Done():
	}
	// Stop accepting, finish in-flight requests, then let in-flight sends
	// finish; each within the shutdown bound.
	sctx, cancel := context.WithTimeout(context.Background(), cfg.HTTP.ShutdownTimeout)
	defer cancel()
	for _, l := range listeners {
		if serr := l.srv.Shutdown(sctx); serr != nil && err == nil {
			err = fmt.Errorf("shutdown: %w", serr)
		}
	}
	if derr := a.Drain(sctx); derr != nil && err == nil {
		err = fmt.Errorf("shutdown: %w", derr)
	}
	if qerr := a.Queue.Stop(sctx); qerr != nil {
		log.Warn("queue stopped with jobs in flight; they will be retried", slog.String("error", qerr.Error()))
	}
	// Metrics last: they are scraped while the rest drains.
	if ms != nil {
		if merr := ms.Shutdown(sctx); merr != nil && err == nil {
			err = fmt.Errorf("shutdown: %w", merr)
		}
	}
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	log.Info("stopped")
	return err
}

// listener is one HTTP listener of serve's: the public API and pages, or
// the admin API.
type listener struct {
	name, addr string
	cert, key  string // both set: serve TLS
	srv        *http.Server
	ln         net.Listener
}

func (l *listener) serve() error {
	if l.cert != "" {
		return l.srv.ServeTLS(l.ln, l.cert, l.key)
	}
	return l.srv.Serve(l.ln)
}

// httpServer is the server every listener of ours runs h with: bounded
// headers, reads, writes and idle connections.
func httpServer(h http.Handler, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler: h, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 15 * time.Second,
		WriteTimeout: 30 * time.Second, IdleTimeout: 60 * time.Second, MaxHeaderBytes: 16 << 10,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		// TLS 1.2 and 1.3 only. TLS 1.2 with forward-secret AEAD suites
		// only (Mozilla's "intermediate"): Go's defaults still offer
		// ECDHE with AES-CBC-SHA, whose MAC-then-encrypt invites padding
		// oracles. TLS 1.3's suites are all AEAD and not configurable.
		TLSConfig: &tls.Config{MinVersion: tls.VersionTLS12, CipherSuites: []uint16{
			tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
			tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
			tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
		}},
	}
}
