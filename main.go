// Command accountpw serves PUT /api/v1/account/password: reset a forgotten
// password by email, or change a known one with a bearer session.
//
// main.go holds only main, run, serve and the command dispatch; the
// application is built by services.Open.
package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/accountpw/accountpw/handlers"
	"github.com/accountpw/accountpw/services"
	"github.com/accountpw/accountpw/services/config"
	"github.com/accountpw/accountpw/services/sessions"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, limitMemory)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "accountpw:", err)
		os.Exit(1)
	}
}

// limitMemory sets serve's soft Go memory limit, unless GOMEMLIMIT is set:
// argon2id allocates its whole block per hash, and without a limit the
// garbage collector lets freed blocks pile up to twice the live heap.
func limitMemory(budget int64) {
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(budget)
	}
}

const usage = `usage: accountpw [--config PATH] [serve | migrate | users create --email E --password-stdin |
                 token --user-id ID [--ttl 15m] | mail failed | mail retry ID]`

// run is main without the process: tests call it directly. limit, when not
// nil, receives serve's memory budget; it is process-wide, so tests pass nil.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout io.Writer,
	limit func(int64)) error {
	fs := flag.NewFlagSet("accountpw", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	cfgPath := fs.String("config", "", "configuration file (default ./config.yaml if present)")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w\n%s", err, usage)
	}
	path, explicit := *cfgPath, *cfgPath != ""
	if !explicit {
		path = config.DefaultFile
	}
	cfg, err := config.Load(path, explicit, getenv)
	if err != nil {
		return fmt.Errorf("configuration:\n%w", err)
	}
	rest := fs.Args()
	cmd := "serve"
	if len(rest) > 0 {
		cmd, rest = rest[0], rest[1:]
	}
	level, _ := cfg.Log.SlogLevel()
	if cmd != "serve" {
		// One-shot commands print their result on stdout; only problems
		// may join it there.
		level = max(level, slog.LevelWarn)
	}
	log := slog.New(slog.NewJSONHandler(stdout, &slog.HandlerOptions{Level: level}))
	switch cmd {
	case "serve":
		return serve(ctx, cfg, log, limit)
	case "migrate":
		a, err := services.Open(ctx, cfg, log, services.Options{Migrate: true})
		if err != nil {
			return err
		}
		defer a.Close()
		log.Info("migrated")
		return nil
	case "users":
		return usersCmd(ctx, cfg, log, rest, stdin, stdout)
	case "token":
		return tokenCmd(cfg, rest, stdout)
	case "mail":
		return mailCmd(ctx, cfg, log, rest, stdout)
	}
	return fmt.Errorf("unknown command %q\n%s", cmd, usage)
}

func serve(ctx context.Context, cfg config.Config, log *slog.Logger, limit func(int64)) error {
	a, err := services.Open(ctx, cfg, log, services.Options{Migrate: cfg.Database.Migrate})
	if err != nil {
		return err
	}
	defer a.Close()
	if limit != nil {
		limit(a.MemoryBudget())
	}
	proxies, _ := cfg.HTTP.TrustedProxyPrefixes() // validated by config.Load
	e := handlers.New(a.Passwords, handlers.Options{
		Logger: log, TrustedProxies: proxies, CORSOrigins: cfg.HTTP.CORSAllowedOrigins,
		TLS: cfg.HTTP.TLS(), ChangePasswordURL: cfg.HTTP.ChangePasswordURL,
	})
	srv := &http.Server{
		Handler: e, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 15 * time.Second,
		WriteTimeout: 30 * time.Second, IdleTimeout: 60 * time.Second, MaxHeaderBytes: 16 << 10,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		// TLS 1.2 and 1.3 only, with Go's default (AEAD, forward secret) suites.
		TLSConfig: &tls.Config{MinVersion: tls.VersionTLS12},
	}
	ln, err := net.Listen("tcp", cfg.HTTP.Addr)
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	if err := a.Queue.Start(ctx); err != nil {
		ln.Close()
		return err
	}
	errc := make(chan error, 1)
	go func() {
		if cfg.HTTP.TLS() {
			errc <- srv.ServeTLS(ln, cfg.HTTP.TLSCert, cfg.HTTP.TLSKey)
			return
		}
		errc <- srv.Serve(ln)
	}()
	log.Info("listening", slog.String("addr", ln.Addr().String()), slog.Bool("tls", cfg.HTTP.TLS()),
		slog.Bool("postgres", a.DB.Postgres()), slog.String("mail_provider", cfg.Mail.Provider))

	select {
	case err = <-errc:
	case <-ctx.Done():
	}
	// Stop accepting, finish in-flight requests, then let in-flight sends
	// finish; each within the shutdown bound.
	sctx, cancel := context.WithTimeout(context.Background(), cfg.HTTP.ShutdownTimeout)
	defer cancel()
	if serr := srv.Shutdown(sctx); serr != nil && err == nil {
		err = fmt.Errorf("shutdown: %w", serr)
	}
	if derr := a.Drain(sctx); derr != nil && err == nil {
		err = fmt.Errorf("shutdown: %w", derr)
	}
	if qerr := a.Queue.Stop(sctx); qerr != nil {
		log.Warn("queue stopped with jobs in flight; they will be retried", slog.String("error", qerr.Error()))
	}
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	log.Info("stopped")
	return err
}

func usersCmd(ctx context.Context, cfg config.Config, log *slog.Logger, args []string, stdin io.Reader, stdout io.Writer) error {
	const u = "usage: accountpw users create --email E --password-stdin"
	if len(args) == 0 || args[0] != "create" {
		return errors.New(u)
	}
	fs := flag.NewFlagSet("users create", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	email := fs.String("email", "", "address of the account")
	fromStdin := fs.Bool("password-stdin", false, "read the password from the first line of stdin")
	if err := fs.Parse(args[1:]); err != nil || *email == "" || !*fromStdin {
		return errors.New(u)
	}
	line, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("read password: %w", err)
	}
	line = strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
	a, err := services.Open(ctx, cfg, log, services.Options{Migrate: true})
	if err != nil {
		return err
	}
	defer a.Close()
	created, err := a.Passwords.CreateUser(ctx, *email, line)
	if err != nil {
		return fmt.Errorf("create user: %w", err)
	}
	return json.NewEncoder(stdout).Encode(map[string]string{"id": created.ID, "email": created.Email})
}

func tokenCmd(cfg config.Config, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("token", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	id := fs.String("user-id", "", "account id (the sub claim)")
	ttl := fs.Duration("ttl", 15*time.Minute, "lifetime")
	if err := fs.Parse(args); err != nil || *id == "" || *ttl <= 0 {
		return errors.New("usage: accountpw token --user-id ID [--ttl 15m]")
	}
	secret, _, err := services.Secrets(cfg)
	if err != nil {
		return err
	}
	if secret == nil {
		return errors.New("token: no HS256 secret is configured (JWKS mode)")
	}
	tok, err := sessions.Issue(secret, cfg.Auth, *id, time.Now(), *ttl)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(stdout, tok)
	return err
}

func mailCmd(ctx context.Context, cfg config.Config, log *slog.Logger, args []string, stdout io.Writer) error {
	const u = "usage: accountpw mail failed | accountpw mail retry ID"
	if len(args) == 0 {
		return errors.New(u)
	}
	a, err := services.Open(ctx, cfg, log, services.Options{Migrate: true})
	if err != nil {
		return err
	}
	defer a.Close()
	switch {
	case args[0] == "failed" && len(args) == 1:
		dl, err := a.Queue.DeadLetters(ctx, 100)
		if err != nil {
			return err
		}
		enc := json.NewEncoder(stdout)
		for _, d := range dl {
			if err := enc.Encode(d); err != nil {
				return err
			}
		}
		return nil
	case args[0] == "retry" && len(args) == 2:
		id, err := strconv.ParseInt(args[1], 10, 64)
		if err != nil {
			return errors.New(u)
		}
		if err := a.Queue.Retry(ctx, id); err != nil {
			return err
		}
		_, err = fmt.Fprintf(stdout, "message %d queued again\n", id)
		return err
	}
	return errors.New(u)
}
