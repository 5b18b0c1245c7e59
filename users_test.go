package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/accountpw/accountpw/services/cli"
)

// legacyBcrypt is a bcrypt hash (cost 4) of legacyPassword, as an
// adopting application exports it.
const (
	legacyPassword = "correct horse battery staple"
	legacyBcrypt   = "$2a$04$F/7tYD.C..5USMpXvOIftuyNryzZ8JoFsbRiNHd70.492qy2DaeE2"
)

// runWith runs the command line with stdin and returns what it left.
func runWith(t *testing.T, env map[string]string, stdin string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out, errOut bytes.Buffer
	err := run(ctx, args, environ(env), strings.NewReader(stdin), &out, &errOut, nil)
	return result{cli.ExitCode(err), out.String(), errOut.String(), err}
}

// want checks a command's exit status, and that stdout and stderr contain
// the given pieces.
func (r result) want(t *testing.T, code int, stdout, stderr []string) {
	t.Helper()
	if r.code != code {
		t.Fatalf("exit status %d, want %d\nstdout: %s\nstderr: %s", r.code, code, r.stdout, r.stderr)
	}
	for _, w := range stdout {
		if !strings.Contains(r.stdout, w) {
			t.Errorf("stdout lacks %q:\n%s", w, r.stdout)
		}
	}
	for _, w := range stderr {
		if !strings.Contains(r.stderr, w) {
			t.Errorf("stderr lacks %q:\n%s", w, r.stderr)
		}
	}
}

// TestUserCommands walks an adopting application's account lifecycle on
// the embedded default: create with its own id, import (dry run, real,
// again from stdin), show, move to another address, delete. Every command
// prints JSON; an unknown id is a failure (status 1); a line's error names
// neither its address nor its hash.
func TestUserCommands(t *testing.T) {
	t.Chdir(t.TempDir())
	env := map[string]string{
		"ACCOUNTPW_PASSWORD_ARGON2_MEMORY_KIB": "19456", "ACCOUNTPW_PASSWORD_ARGON2_TIME": "2",
		"ACCOUNTPW_PASSWORD_ARGON2_THREADS": "1",
	}
	runWith(t, env, "velvet orbit copper lantern\n", "users", "create", "--id", "acme:42", "--email", "Ann@Example.org", "--password-stdin").
		want(t, 0, []string{`{"email":"Ann@Example.org","id":"acme:42"}` + "\n"}, nil)
	runWith(t, env, "quartz meadow tundra violin\n", "users", "create", "--id", "acme:42", "--email", "other@example.org", "--password-stdin").
		want(t, 1, nil, []string{"accountpw: create user: an account with this id already exists"})

	file := strings.Join([]string{
		`{"id":"acme:43","email":"bob@example.org","password_hash":"` + legacyBcrypt + `","locale":"de","password_changed_at":"2025-01-02T03:04:05Z"}`,
		`{"id":"acme:44","email":"ann@example.org"}`,
		`{"id":"acme:45","email":"cy@example.org"}`,
		`{"id":"acme:46","email":"dee@example.org","password_hash":"` + legacyBcrypt[:4] + "32" + legacyBcrypt[6:] + `"}`, // bcrypt defines costs 4–31
	}, "\n") + "\n"
	if err := os.WriteFile("users.jsonl", []byte(file), 0o600); err != nil {
		t.Fatal(err)
	}
	lineErrors := []string{"line 2: the address belongs to an account with another id\n",
		"line 4: password_hash: not a well-formed hash of a supported format (argon2id, argon2i, bcrypt, pbkdf2_sha256): bcrypt cost out of bounds"}
	summary := `{"imported":2,"updated":0,"unchanged":0,"errors":2}` + "\n"
	dry := runWith(t, env, "", "users", "import", "--dry-run", "users.jsonl")
	dry.want(t, 1, []string{summary}, append(lineErrors, "accountpw: 2 of 4 lines would not be imported"))
	runWith(t, env, "", "users", "show", "--id", "acme:43").want(t, 1, nil, []string{"accountpw: users show: no account with this id\n"})

	real := runWith(t, env, "", "users", "import", "users.jsonl")
	real.want(t, 1, []string{summary}, append(lineErrors, "accountpw: 2 of 4 lines were not imported (see the lines above)"))
	for _, leak := range []string{"ann@", "Ann@", "bob@", "dee@", "$2a$", "F/7tYD"} {
		if strings.Contains(real.stderr+dry.stderr, leak) {
			t.Errorf("stderr quotes %q:\n%s", leak, real.stderr)
		}
	}
	runWith(t, env, file, "users", "import", "-").
		want(t, 1, []string{`{"imported":0,"updated":0,"unchanged":2,"errors":2}`}, nil)

	show := runWith(t, env, "", "users", "show", "--id", "acme:43")
	show.want(t, 0, nil, nil)
	var info map[string]any
	if err := json.Unmarshal([]byte(show.stdout), &info); err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]any{"id": "acme:43", "email": "bob@example.org", "locale": "de",
		"password_changed_at": "2025-01-02T03:04:05Z", "hash_format": "bcrypt"} {
		if info[k] != v {
			t.Errorf("show: %s is %v, want %v", k, info[k], v)
		}
	}
	if _, ok := info["created_at"]; !ok || strings.Contains(show.stdout, "$2a$") || len(info) != 6 {
		t.Errorf("show printed %s; want six members and never the hash", show.stdout)
	}
	if got := runWith(t, env, "", "users", "show", "--id", "acme:45"); !strings.Contains(got.stdout, `"hash_format":"none"`) {
		t.Errorf("an account without a password: %s", got.stdout)
	}

	runWith(t, env, "", "users", "show", "--email", "BOB@example.org").want(t, 0, []string{`"id":"acme:43"`}, nil)
	runWith(t, env, "", "users", "show", "--email", "nobody@example.org").
		want(t, 1, nil, []string{"accountpw: users show: no account with this address\n"})
	runWith(t, env, "", "users", "show", "--id", "acme:43", "--email", "bob@example.org").want(t, 2, nil, []string{"exactly one of --id and --email"})
	runWith(t, env, "", "users", "show").want(t, 2, nil, []string{"exactly one of --id and --email"})
	runWith(t, env, "", "users", "show", "--email", "not an address").want(t, 2, nil, []string{"--email: not a valid address"})

	// users list: every account, one JSON line each, in byte order of
	// the ids; --after and --limit walk it.
	all := runWith(t, env, "", "users", "list")
	all.want(t, 0, nil, nil)
	var ids []string
	for line := range strings.Lines(all.stdout) {
		var a map[string]any
		if err := json.Unmarshal([]byte(line), &a); err != nil || strings.Contains(line, "$2a$") {
			t.Fatalf("users list printed %q (%v)", line, err)
		}
		ids = append(ids, a["id"].(string))
	}
	if got := strings.Join(ids, " "); got != "acme:42 acme:43 acme:45" {
		t.Fatalf("users list: got %s", got)
	}
	runWith(t, env, "", "users", "list", "--after", "acme:42", "--limit", "1").
		want(t, 0, []string{`"id":"acme:43"`}, nil)
	if got := runWith(t, env, "", "users", "list", "--after", "acme:43"); strings.Count(got.stdout, "\n") != 1 || !strings.Contains(got.stdout, "acme:45") {
		t.Errorf("users list --after acme:43: %q", got.stdout)
	}
	runWith(t, env, "", "users", "list", "--after", "a b").want(t, 2, nil, []string{"--after"})
	runWith(t, env, "", "users", "list", "--limit", "-1").want(t, 2, nil, []string{"--limit"})

	runWith(t, env, "", "users", "set-email", "--id", "acme:43", "--email", "Bob@New.example").
		want(t, 0, []string{`{"email":"Bob@New.example","id":"acme:43"}` + "\n"}, nil)
	runWith(t, env, "", "users", "show", "--id", "acme:43").want(t, 0, []string{`"email":"Bob@New.example"`}, nil)
	runWith(t, env, "", "users", "set-email", "--id", "acme:43", "--email", "ANN@example.org").
		want(t, 1, nil, []string{"accountpw: users set-email: an account with this address already exists"})
	runWith(t, env, "", "users", "set-email", "--id", "acme:99", "--email", "x@example.org").
		want(t, 1, nil, []string{"accountpw: users set-email: no account with this id"})

	runWith(t, env, "", "users", "delete", "--id", "acme:43").want(t, 0, []string{`{"deleted":true,"id":"acme:43"}` + "\n"}, nil)
	runWith(t, env, "", "users", "show", "--id", "acme:43").want(t, 1, nil, []string{"no account with this id"})
	runWith(t, env, "", "users", "delete", "--id", "acme:43").want(t, 1, nil, []string{"accountpw: users delete: no account with this id"})
}
