package main

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/accountpw/accountpw/services/cli"
)

// result is what one run of the command line left behind.
type result struct {
	code           int
	stdout, stderr string
	err            error
}

// runArgs runs the command line with env and returns its exit status and
// output. The context bounds a command that should have returned at once
// but ran the server instead.
func runArgs(t *testing.T, env map[string]string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out, errOut bytes.Buffer
	err := run(ctx, args, environ(env), strings.NewReader(""), &out, &errOut, nil)
	return result{cli.ExitCode(err), out.String(), errOut.String(), err}
}

// TestCommandLine pins the exit status and output of help, version and
// mistakes in the command line. Every row runs in an empty directory, and
// none of them may run anything: no data/ directory (the embedded database
// and secret) may appear.
//
// A missing required flag is a mistake in the command line like an unknown
// flag: status 2 with the usage, decided by cobra before the command runs.
func TestCommandLine(t *testing.T) {
	rows := []struct {
		name       string
		args       []string
		code       int
		stdout     []string // pieces of stdout
		stderr     []string // pieces of stderr
		quietError bool     // stderr must be empty
	}{
		{"--help", []string{"--help"}, 0, []string{"Usage:", "Available Commands:", "healthcheck", "users", "token"}, nil, true},
		{"help", []string{"help"}, 0, []string{"Usage:", "Available Commands:"}, nil, true},
		{"help users", []string{"help", "users"}, 0, []string{"accountpw users [command]", "create", "import", "show", "set-email", "delete"}, nil, true},
		{"help for a subcommand", []string{"help", "users", "create"}, 0, []string{"--password-stdin", "--email", "--locale", "--id"}, nil, true},
		{"help users import", []string{"users", "import", "--help"}, 0, []string{"--dry-run", `{"imported":N,"updated":N,"unchanged":N,"errors":N}`}, nil, true},
		{"unsupported locale", []string{"users", "create", "--email", "a@example.org", "--password-stdin", "--locale", "xx"}, 2, nil, []string{"--locale", "xx"}, false},
		{"users --help", []string{"users", "--help"}, 0, []string{"accountpw users [command]", "create"}, nil, true},
		{"migrate --help", []string{"migrate", "--help"}, 0, []string{"accountpw migrate [flags]"}, nil, true},
		{"serve --help", []string{"serve", "--help"}, 0, []string{"accountpw serve [flags]"}, nil, true},
		{"healthcheck --help", []string{"healthcheck", "--help"}, 0, []string{"--url"}, nil, true},
		{"token --help", []string{"token", "-h"}, 0, []string{"--user-id", "--ttl"}, nil, true},
		{"mail retry --help", []string{"mail", "retry", "--help"}, 0, []string{"accountpw mail retry ID"}, nil, true},
		{"version", []string{"version"}, 0, []string{"accountpw ", "(revision "}, nil, true},
		{"--version", []string{"--version"}, 0, []string{"accountpw ", "(revision "}, nil, true},
		{"unknown command", []string{"bogus"}, 2, nil, []string{`accountpw: unknown command "bogus" for "accountpw"`, "Usage:"}, false},
		{"unknown command close to two", []string{"serv"}, 2, nil, []string{
			"accountpw: unknown command \"serv\" for \"accountpw\"\nDid you mean one of these?\n  serve\n  users\n\nUsage:"}, false},
		{"unknown command close to one", []string{"srve"}, 2, nil, []string{
			"accountpw: unknown command \"srve\" for \"accountpw\"\nDid you mean this?\n  serve\n\nUsage:"}, false},
		{"unknown help topic", []string{"help", "bogus"}, 2, nil, []string{`unknown command "bogus"`, "Usage:"}, false},
		{"unknown subcommand", []string{"users", "remove"}, 2, nil, []string{`unknown command "remove" for "accountpw users"`, "Usage:"}, false},
		{"users delete without --id", []string{"users", "delete"}, 2, nil, []string{`required flag(s) "id" not set`, "accountpw users delete --id ID"}, false},
		{"users show with an id that cannot be one", []string{"users", "show", "--id", "a b"}, 2, nil, []string{"--id: an account id is 1–128 characters"}, false},
		{"users set-email with a bad address", []string{"users", "set-email", "--id", "42", "--email", "nope"}, 2, nil, []string{"--email: not a valid address"}, false},
		{"users create with an id that cannot be one", []string{"users", "create", "--email", "a@example.org", "--password-stdin", "--id", "a/b"}, 2, nil, []string{"--id: an account id"}, false},
		{"users import with two files", []string{"users", "import", "a.jsonl", "b.jsonl"}, 2, nil, []string{"accepts at most 1 arg(s), received 2"}, false},
		{"users import of a missing file", []string{"users", "import", "missing.jsonl"}, 1, nil, []string{"accountpw: users import: open missing.jsonl: no such file or directory"}, false},
		{"token for a sub that cannot be an id", []string{"token", "--user-id", "a b"}, 2, nil, []string{"--user-id: an account id"}, false},
		{"subcommand missing", []string{"mail"}, 2, nil, []string{`"accountpw mail" needs a command: failed, retry or drop`, "Usage:"}, false},
		{"users subcommand missing", []string{"users"}, 2, nil, []string{`"accountpw users" needs a command: create, import, show, list, set-email or delete`}, false},
		{"unknown flag", []string{"--bogus"}, 2, nil, []string{"accountpw: unknown flag: --bogus", "Usage:"}, false},
		{"unknown flag of a subcommand", []string{"token", "--user", "x"}, 2, nil, []string{"unknown flag: --user", "accountpw token --user-id ID"}, false},
		{"missing required flag", []string{"token"}, 2, nil, []string{`accountpw: required flag(s) "user-id" not set`, "Usage:"}, false},
		{"missing required flags", []string{"users", "create"}, 2, nil, []string{`required flag(s) "email", "password-stdin" not set`}, false},
		{"flag value that does not parse", []string{"token", "--user-id", "x", "--ttl", "soon"}, 2, nil, []string{`invalid argument "soon" for "--ttl"`}, false},
		{"flag value out of range", []string{"token", "--user-id", "x", "--ttl", "-1m"}, 2, nil, []string{"--ttl must be positive"}, false},
		{"argument that is not a number", []string{"mail", "retry", "x"}, 2, nil, []string{`ID must be a dead letter's number, got "x"`}, false},
		{"extra argument", []string{"migrate", "now"}, 2, nil, []string{`unknown command "now" for "accountpw migrate"`}, false},
		{"explicit configuration file missing", []string{"--config", "missing.yaml", "migrate"}, 1, nil, []string{"accountpw: configuration: config: open missing.yaml"}, false},
	}
	for _, r := range rows {
		t.Run(r.name, func(t *testing.T) {
			t.Chdir(t.TempDir())
			got := runArgs(t, map[string]string{"ACCOUNTPW_HTTP_ADDR": "127.0.0.1:0"}, r.args...)
			if got.code != r.code {
				t.Errorf("exit status %d, want %d (err %v)\nstdout: %s\nstderr: %s", got.code, r.code, got.err, got.stdout, got.stderr)
			}
			for _, w := range r.stdout {
				if !strings.Contains(got.stdout, w) {
					t.Errorf("stdout lacks %q:\n%s", w, got.stdout)
				}
			}
			for _, w := range r.stderr {
				if !strings.Contains(got.stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, got.stderr)
				}
			}
			if r.quietError && got.stderr != "" {
				t.Errorf("stderr must be empty, got %q", got.stderr)
			}
			if r.code != 0 && got.stdout != "" {
				t.Errorf("a failure must leave stdout empty, got %q", got.stdout)
			}
			if r.code == 1 && strings.Count(got.stderr, "\n") != 1 {
				t.Errorf("a failure is one line on stderr, got %q", got.stderr)
			}
			if strings.Contains(got.stdout, `"msg":"listening"`) {
				t.Error("the server ran")
			}
			if _, err := os.Stat("data"); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("data/ appeared (%v): the command ran", err)
			}
		})
	}
}

// TestConfigurationFailureIsOneLine: every problem is reported, on one
// line, and a mistyped variable is named with the one that was meant.
func TestConfigurationFailureIsOneLine(t *testing.T) {
	t.Chdir(t.TempDir())
	got := runArgs(t, map[string]string{"ACCOUNTPW_HTTP_ADRR": ":9090", "ACCOUNTPW_HTTP_SHUTDOWN_TIMEOUT": "x"}, "migrate")
	want := regexp.MustCompile(`^accountpw: configuration: .*unknown variable ACCOUNTPW_HTTP_ADRR; did you mean ACCOUNTPW_HTTP_ADDR\?; ` +
		`ACCOUNTPW_HTTP_SHUTDOWN_TIMEOUT \(http.shutdown_timeout\): time: invalid duration "x".*\n$`)
	if got.code != 1 || !want.MatchString(got.stderr) {
		t.Errorf("got status %d and %q, want 1 and one line matching %s", got.code, got.stderr, want)
	}
}

// TestTokenNeverMintsWithAFreshSecret: token signs only with the secret
// serve verifies with, and says which one on stderr.
func TestTokenNeverMintsWithAFreshSecret(t *testing.T) {
	jwtShape := regexp.MustCompile(`^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\n$`)

	t.Run("embedded default before the server ever ran", func(t *testing.T) {
		t.Chdir(t.TempDir())
		got := runArgs(t, nil, "token", "--user-id", "u1")
		if got.code != 1 || !strings.Contains(got.stderr, "data/jwt_secret does not exist yet; start the server once") ||
			!strings.Contains(got.stderr, "ACCOUNTPW_AUTH_JWT_SECRET") || got.stdout != "" {
			t.Errorf("got %d, stdout %q, stderr %q; want a refusal that says what to do", got.code, got.stdout, got.stderr)
		}
		if _, err := os.Stat("data/jwt_secret"); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("token created data/jwt_secret (%v)", err)
		}
	})
	t.Run("embedded default after the server generated its secret", func(t *testing.T) {
		t.Chdir(t.TempDir())
		if err := os.Mkdir("data", 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile("data/jwt_secret", []byte(strings.Repeat("ab", 32)), 0o600); err != nil {
			t.Fatal(err)
		}
		got := runArgs(t, nil, "token", "--user-id", "u1")
		if got.code != 0 || !jwtShape.MatchString(got.stdout) || got.stderr != "signed with the embedded default's data/jwt_secret\n" {
			t.Errorf("got %d, stdout %q, stderr %q; want the token alone on stdout and its secret named on stderr", got.code, got.stdout, got.stderr)
		}
	})
	t.Run("secret from the environment", func(t *testing.T) {
		t.Chdir(t.TempDir())
		got := runArgs(t, map[string]string{"ACCOUNTPW_AUTH_JWT_SECRET": strings.Repeat("s", 32)}, "token", "--user-id", "u1", "--ttl", "5m")
		if got.code != 0 || !jwtShape.MatchString(got.stdout) || got.stderr != "signed with ACCOUNTPW_AUTH_JWT_SECRET\n" {
			t.Errorf("got %d, stdout %q, stderr %q", got.code, got.stdout, got.stderr)
		}
		if _, err := os.Stat("data"); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("token touched data/ (%v)", err)
		}
	})
	t.Run("JWKS mode", func(t *testing.T) {
		t.Chdir(t.TempDir())
		got := runArgs(t, map[string]string{"ACCOUNTPW_AUTH_JWKS_URL": "https://keys.example/jwks"}, "token", "--user-id", "u1")
		if got.code != 1 || !strings.Contains(got.stderr, "ACCOUNTPW_AUTH_JWKS_URL") || got.stdout != "" {
			t.Errorf("got %d, stdout %q, stderr %q; want a refusal", got.code, got.stdout, got.stderr)
		}
	})
}

// TestHealthcheck asks a running serve (by --url and by its configured
// address, as a container's HEALTHCHECK does), and servers that must fail it.
func TestHealthcheck(t *testing.T) {
	t.Chdir(t.TempDir())
	env := map[string]string{
		"ACCOUNTPW_PASSWORD_ARGON2_MEMORY_KIB": "19456", "ACCOUNTPW_PASSWORD_ARGON2_TIME": "2",
		"ACCOUNTPW_PASSWORD_ARGON2_THREADS": "1",
	}
	base, _ := startServe(t, env)
	if got := runArgs(t, nil, "healthcheck", "--url", base); got.code != 0 || !strings.Contains(got.stdout, "ready: GET "+base+"/readyz answered 200 OK") {
		t.Errorf("--url %s: got %d, stdout %q, stderr %q", base, got.code, got.stdout, got.stderr)
	}
	// A full URL of either probe is asked as it is.
	for _, probe := range []string{"/readyz", "/healthz", "/"} {
		want := base + probe
		if probe == "/" {
			want = base + "/readyz"
		}
		if got := runArgs(t, nil, "healthcheck", "--url", base+probe); got.code != 0 || !strings.Contains(got.stdout, "ready: GET "+want+" answered 200 OK") {
			t.Errorf("--url %s: got %d, stdout %q, stderr %q; want GET %s", base+probe, got.code, got.stdout, got.stderr, want)
		}
	}
	// Only the server's own environment: its address, and nothing to open.
	served := map[string]string{"ACCOUNTPW_HTTP_ADDR": strings.TrimPrefix(base, "http://")}
	if got := runArgs(t, served, "healthcheck"); got.code != 0 {
		t.Errorf("configured address: got %d, stdout %q, stderr %q", got.code, got.stdout, got.stderr)
	}

	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedURL := "http://" + closed.Addr().String()
	closed.Close()
	unavailable := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer unavailable.Close()
	hanging := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
	defer hanging.Close()
	tlsServer := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/readyz" {
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	defer tlsServer.Close()

	for _, r := range []struct {
		name, url string
		code      int
		stderr    string
	}{
		{"closed port", closedURL, 1, "connection refused"},
		{"not ready", unavailable.URL, 1, "answered 503 Service Unavailable, want 200"},
		{"no answer within 2 s", hanging.URL, 1, "no answer within 2s"},
		{"TLS on loopback, certificate for another name", tlsServer.URL, 0, ""},
		{"not an http URL", "ftp://127.0.0.1:21", 2, "--url must be an http:// or https:// URL"},
		{"a full URL of another path", base + "/metrics", 1, "answered 404 Not Found, want 200"},
	} {
		t.Run(r.name, func(t *testing.T) {
			start := time.Now()
			got := runArgs(t, nil, "healthcheck", "--url", r.url)
			if got.code != r.code || !strings.Contains(got.stderr, r.stderr) {
				t.Errorf("got %d, stderr %q; want %d and %q", got.code, got.stderr, r.code, r.stderr)
			}
			if d := time.Since(start); d > cli.HealthTimeout+2*time.Second {
				t.Errorf("took %s, want at most about %s", d, cli.HealthTimeout)
			}
		})
	}
}

// TestMailFailedWithNothing: an empty dead-letter list says so, on stderr,
// so that a person sees an answer and stdout stays JSON lines (none) for a
// script.
func TestMailFailedWithNothing(t *testing.T) {
	t.Chdir(t.TempDir())
	got := runArgs(t, nil, "mail", "failed")
	if got.code != 0 || got.stdout != "" || got.stderr != "no dead letters\n" {
		t.Errorf("got %d, stdout %q, stderr %q; want 0, nothing, and \"no dead letters\"", got.code, got.stdout, got.stderr)
	}
}
