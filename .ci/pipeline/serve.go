package main

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	_ "github.com/glebarez/go-sqlite"  // the "sqlite" database/sql driver
	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
)

// jwtSecret signs the bearers of the hashing mode; serve verifies with it.
const jwtSecret = "pipeline-secret-0123456789abcdefghijkl"

func build(bin string) error {
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		return fmt.Errorf("build: %v\n%s", err, out)
	}
	return nil
}

func machine() map[string]any {
	return map[string]any{"cpus": runtime.NumCPU(), "go": runtime.Version(), "at": time.Now().UTC().Format(time.RFC3339)}
}

// database is a scratch PostgreSQL database for one run.
type database struct {
	name, url string
	admin     *sql.DB
}

func newDatabase(ctx context.Context, adminURL string) (*database, error) {
	admin, err := sql.Open("pgx", adminURL)
	if err != nil {
		return nil, err
	}
	name := fmt.Sprintf("pipeline_%d", time.Now().UnixNano())
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		admin.Close()
		return nil, err
	}
	return &database{name: name, url: "postgres://postgres@127.0.0.1:5432/" + name + "?sslmode=disable", admin: admin}, nil
}

// fixture is what most modes start from: a scratch database, migrated, a
// fake provider answering after a delay, and serve's environment for both.
type fixture struct {
	db  *database
	p   *provider
	env []string
}

func newFixture(ctx context.Context, o options, delay time.Duration) (*fixture, error) {
	db, err := newDatabase(ctx, o.admin)
	if err != nil {
		return nil, err
	}
	p, err := newProvider(delay)
	if err != nil {
		db.drop()
		return nil, err
	}
	f := &fixture{db: db, p: p, env: baseEnv(db.url, p.url)}
	if _, err := cli(ctx, o.bin, o.dir, f.env, "", "migrate"); err != nil {
		f.close()
		return nil, err
	}
	return f, nil
}

func (f *fixture) close() {
	f.p.close()
	f.db.drop()
}

func (d *database) drop() {
	_, _ = d.admin.Exec("DROP DATABASE IF EXISTS " + d.name + " WITH (FORCE)")
	d.admin.Close()
}

// seed inserts accounts for the addresses, with a placeholder hash: the
// email modes never verify a password.
func seed(ctx context.Context, url string, addrs []string) error {
	return seedWith(ctx, url, addrs, "x")
}

// seedWith inserts accounts for the addresses, ids "u-" + address, all with
// the password hash phc.
func seedWith(ctx context.Context, url string, addrs []string, phc string) error {
	driver, dsn := "pgx", url
	if !strings.HasPrefix(url, "postgres") {
		driver, dsn = "sqlite", url // a SQLite file
	}
	db, err := sql.Open(driver, dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	// A second in the past, so that a bearer issued now is not older than
	// the password.
	now := time.Now().UTC().Add(-time.Second)
	for start := 0; start < len(addrs); start += 1000 {
		end := min(start+1000, len(addrs))
		var sb strings.Builder
		args := make([]any, 0, 7*(end-start))
		sb.WriteString("INSERT INTO users (id, email, email_key, password_hash, password_changed_at, created_at, updated_at) VALUES ")
		for i, a := range addrs[start:end] {
			if i > 0 {
				sb.WriteString(",")
			}
			if driver == "pgx" {
				n := len(args)
				fmt.Fprintf(&sb, "($%d, $%d, $%d, $%d, $%d, $%d, $%d)", n+1, n+2, n+3, n+4, n+5, n+6, n+7)
			} else {
				sb.WriteString("(?, ?, ?, ?, ?, ?, ?)")
			}
			args = append(args, "u-"+a, a, a, phc, now, now, now)
		}
		if _, err := db.ExecContext(ctx, sb.String(), args...); err != nil {
			return fmt.Errorf("seed: %w", err)
		}
	}
	return nil
}

// server is a running `accountpw serve`; admin is the admin listener's base
// URL when env turns it on.
type server struct {
	base, admin, metrics, log string
	cmd                       *exec.Cmd
	started                   time.Time
}

// baseEnv is production configuration: limits on, argon2id 64 MiB/3/4,
// SendGrid (the fake), log level info. GODEBUG=madvdontneed=0 keeps the
// hashing memory the runtime gave back mapped (see docs/performance.md).
func baseEnv(dbURL, sendgrid string) []string {
	env := []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"),
		"GODEBUG=madvdontneed=0",
		"ACCOUNTPW_HTTP_ADDR=127.0.0.1:0",
		"ACCOUNTPW_METRICS_ADDR=127.0.0.1:0", // replicas run side by side
		"ACCOUNTPW_AUTH_JWT_SECRET=" + jwtSecret,
		"ACCOUNTPW_MAIL_PROVIDER=sendgrid",
		"ACCOUNTPW_MAIL_SENDGRID_API_KEY=" + fakeKey,
		"ACCOUNTPW_MAIL_SENDGRID_BASE_URL=" + sendgrid,
		"ACCOUNTPW_RESET_URL=https://app.example.org/password-reset",
		"ACCOUNTPW_LOG_LEVEL=info",
	}
	if dbURL != "" {
		env = append(env, "ACCOUNTPW_DATABASE_URL="+dbURL)
	}
	for _, kv := range os.Environ() { // experiments: PIPELINE_SET_X=v sets X=v for serve
		if rest, ok := strings.CutPrefix(kv, "PIPELINE_SET_"); ok {
			env = append(env, rest)
		}
	}
	return env
}

// cli runs a one-shot accountpw command in dir with env.
func cli(ctx context.Context, bin, dir string, env []string, stdin string, args ...string) (string, error) {
	c := exec.CommandContext(ctx, bin, args...)
	c.Dir, c.Env, c.Stdin = dir, env, strings.NewReader(stdin)
	out, err := c.Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			return "", fmt.Errorf("accountpw %s: %v: %s", strings.Join(args, " "), err, ee.Stderr)
		}
		return "", err
	}
	return string(out), nil
}

// startServe starts serve in dir and waits for its "listening" line.
func startServe(ctx context.Context, bin, dir string, env []string) (*server, error) {
	logPath := filepath.Join(dir, fmt.Sprintf("serve-%d.log", time.Now().UnixNano()))
	f, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "serve")
	cmd.Dir, cmd.Env, cmd.Stdout, cmd.Stderr = dir, env, f, f
	s := &server{log: logPath, cmd: cmd, started: time.Now()}
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, err
	}
	f.Close()
	wantAdmin := slices.ContainsFunc(env, func(kv string) bool {
		return strings.HasPrefix(kv, "ACCOUNTPW_ADMIN_ADDR=") && kv != "ACCOUNTPW_ADMIN_ADDR="
	})
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		addrs := listening(logPath)
		if addrs["listening"] != "" && (!wantAdmin || addrs["admin listening"] != "") {
			s.base = "http://" + addrs["listening"]
			if wantAdmin {
				s.admin = "http://" + addrs["admin listening"]
			}
			if a := addrs["metrics listening"]; a != "" {
				s.metrics = "http://" + a + "/metrics"
			}
			return s, nil
		}
		if cmd.ProcessState != nil {
			break
		}
		select {
		case <-ctx.Done():
			s.stop()
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond): // polling the log for the listening line
		}
	}
	s.stop()
	b, _ := os.ReadFile(logPath)
	return nil, fmt.Errorf("serve did not listen within 60 s:\n%s", b)
}

// listening returns the addresses serve's log names so far, by message
// ("listening", "admin listening").
func listening(path string) map[string]string {
	out := map[string]string{}
	f, err := os.Open(path)
	if err != nil {
		return out
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var l struct{ Msg, Addr string }
		if json.Unmarshal(sc.Bytes(), &l) == nil && l.Addr != "" {
			out[l.Msg] = l.Addr
		}
	}
	return out
}

// stop sends SIGTERM and waits.
func (s *server) stop() {
	if s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		_ = s.cmd.Process.Kill()
		<-done
	}
}

// logCounts counts log lines at ERROR and lines that mention SQLITE_BUSY or a
// 500.
func logCounts(path string) map[string]int {
	out := map[string]int{"error_lines": 0, "status_500": 0, "sqlite_busy": 0}
	b, err := os.ReadFile(path)
	if err != nil {
		return out
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.Contains(line, `"level":"ERROR"`) {
			out["error_lines"]++
		}
		if strings.Contains(line, `"status":500`) {
			out["status_500"]++
		}
		if strings.Contains(line, "SQLITE_BUSY") || strings.Contains(line, "database is locked") {
			out["sqlite_busy"]++
		}
	}
	return out
}
