package main

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// replicaEnv is the environment of one replica: shared PostgreSQL and fake
// SendGrid, limits raised so one test client can send hundreds of requests.
func replicaEnv(dbURL, sgURL string) map[string]string {
	return map[string]string{
		"ACCOUNTPW_DATABASE_URL":               dbURL,
		"ACCOUNTPW_AUTH_JWT_SECRET":            "replica-secret-0123456789abcdefghijkl",
		"ACCOUNTPW_MAIL_PROVIDER":              "sendgrid",
		"ACCOUNTPW_MAIL_SENDGRID_API_KEY":      "SG.test-key",
		"ACCOUNTPW_MAIL_SENDGRID_BASE_URL":     sgURL,
		"ACCOUNTPW_MAIL_SENDGRID_TIMEOUT":      "5s",
		"ACCOUNTPW_PASSWORD_ARGON2_MEMORY_KIB": "19456",
		"ACCOUNTPW_PASSWORD_ARGON2_TIME":       "2",
		"ACCOUNTPW_PASSWORD_ARGON2_THREADS":    "1",
		"ACCOUNTPW_LIMITS_DISABLED":            "true",
		"ACCOUNTPW_METRICS_ADDR":               "127.0.0.1:0",
	}
}

// mustUsers inserts n accounts straight into the database (their password
// hash is irrelevant here) and returns their addresses.
func mustUsers(t *testing.T, dbURL string, n int) []string {
	t.Helper()
	db, err := sql.Open("pgx", dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	addrs := make([]string, n)
	for i := range addrs {
		addrs[i] = fmt.Sprintf("user%03d@example.org", i)
		_, err := db.Exec(`INSERT INTO users (id, email, email_key, password_hash, password_changed_at, created_at, updated_at)
			VALUES ($1, $2, $2, 'x', now(), now(), now())`, fmt.Sprintf("id-%03d", i), addrs[i])
		if err != nil {
			t.Fatal(err)
		}
	}
	return addrs
}

// Three replicas on one database, 200 requests for 200 accounts spread over
// them: exactly 200 emails, one per account.
func TestReplicasSendEachEmailOnce(t *testing.T) {
	sg := newFakeSendGrid(t, "SG.test-key")
	dbURL := mustPostgresURL(t)
	var bases []string
	for range 3 {
		base, _ := startServe(t, replicaEnv(dbURL, sg.URL))
		bases = append(bases, base)
	}
	addrs := mustUsers(t, dbURL, 200)
	var wg sync.WaitGroup
	for i, a := range addrs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest(http.MethodPut, bases[i%3]+"/api/v1/account/password", strings.NewReader(`{"email":"`+a+`"}`))
			req.Header.Set("Content-Type", "application/json")
			resp, err := contractClient.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusAccepted {
				t.Errorf("%s: got %d, want 202", a, resp.StatusCode)
			}
		}()
	}
	wg.Wait()
	seen := map[string]int{}
	for range addrs {
		p := sg.next(t)
		b, _ := json.Marshal(p["personalizations"])
		seen[string(b)]++
	}
	if len(seen) != len(addrs) {
		t.Fatalf("got emails for %d distinct accounts, want %d", len(seen), len(addrs))
	}
	// Wait until River has recorded every job as completed, then check that
	// each took exactly one attempt and no 201st email arrived.
	db, err := sql.Open("pgx", dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var done, multi int
		err := db.QueryRow(`SELECT count(*) FILTER (WHERE state = 'completed'), count(*) FILTER (WHERE attempt <> 1)
			FROM river_job WHERE kind = 'reset_email'`).Scan(&done, &multi)
		if err != nil {
			t.Fatal(err)
		}
		if multi != 0 {
			t.Fatalf("%d jobs took more than one attempt", multi)
		}
		if done == len(addrs) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d jobs completed", done, len(addrs))
		}
		time.Sleep(50 * time.Millisecond) // polling the database for a condition, not synchronising
	}
	select {
	case p := <-sg.payloads:
		b, _ := json.Marshal(p["personalizations"])
		t.Fatalf("a 201st email was sent: %s", b)
	default:
	}
}

// TestCrashDuringSendIsRedelivered kills a real serve process with SIGKILL
// while it is sending, starts another, and expects the email to arrive:
// at-least-once delivery under crashes. It also checks that SIGTERM stops a
// process cleanly with exit status 0.
func TestCrashDuringSendIsRedelivered(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and waits for crash recovery; not in -short runs")
	}
	bin := filepath.Join(t.TempDir(), "accountpw")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	var (
		mu       sync.Mutex
		requests int
		arrived  = make(chan int, 10)
	)
	sg := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		mu.Lock()
		requests++
		n := requests
		mu.Unlock()
		arrived <- n
		if n == 1 {
			<-r.Context().Done() // the first send hangs until its process dies
			return
		}
		w.WriteHeader(http.StatusAccepted)
	}))
	defer sg.Close()
	dbURL := mustPostgresURL(t)
	env := replicaEnv(dbURL, sg.URL)
	env["ACCOUNTPW_MAIL_SENDGRID_TIMEOUT"] = "10s"

	start := func() (*exec.Cmd, string) {
		env["ACCOUNTPW_HTTP_ADDR"] = "127.0.0.1:0"
		cmd := exec.Command(bin, "serve")
		cmd.Dir = t.TempDir()
		for k, v := range env {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
		out, _ := cmd.StdoutPipe()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		addr := make(chan string, 1)
		go func() {
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				if m := listenRE.FindStringSubmatch(sc.Text()); m != nil {
					addr <- m[1]
				}
			}
		}()
		select {
		case a := <-addr:
			return cmd, "http://" + a
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill() // the test fails anyway
			t.Fatal("serve did not listen within 30 s")
			return nil, ""
		}
	}

	first, base := start()
	mustUsers(t, dbURL, 1)
	wantStatus(t, put(t, base, "", `{"email":"user000@example.org"}`), http.StatusAccepted)
	select {
	case <-arrived:
	case <-time.After(30 * time.Second):
		t.Fatal("the first process never tried to send")
	}
	if err := first.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = first.Wait() // killed: its exit status is the signal

	second, _ := start()
	select {
	case n := <-arrived:
		if n != 2 {
			t.Fatalf("got attempt %d, want the second", n)
		}
	case <-time.After(90 * time.Second):
		_ = second.Process.Kill() // the test fails anyway
		t.Fatal("the email was not re-sent within 90 s of the crash")
	}
	if err := second.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := second.Wait(); err != nil {
		t.Fatalf("after SIGTERM: %v, want exit status 0", err)
	}
}

// An operator lists a dead letter with `mail failed` and re-queues it with
// `mail retry ID`; the email then arrives.
func TestMailCommands(t *testing.T) {
	var (
		mu     sync.Mutex
		refuse = true
		got    = make(chan string, 10)
	)
	sg := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		if refuse {
			w.WriteHeader(http.StatusForbidden)
			io.WriteString(w, `{"errors":[{"message":"The from address does not match a verified Sender Identity"}]}`)
			got <- "refused"
			return
		}
		w.WriteHeader(http.StatusAccepted)
		got <- string(b)
	}))
	defer sg.Close()
	dbURL := mustPostgresURL(t)
	env := replicaEnv(dbURL, sg.URL)
	base, _ := startServe(t, env)
	mustUsers(t, dbURL, 1)
	wantStatus(t, put(t, base, "", `{"email":"user000@example.org"}`), http.StatusAccepted)
	if s := <-got; s != "refused" {
		t.Fatalf("got %q, want the refusal", s)
	}
	var dl struct {
		ID        int64
		Kind      string
		Recipient string
		LastError string `json:"last_error"`
		Attempts  int
	}
	deadline := time.Now().Add(20 * time.Second)
	for dl.ID == 0 {
		out := runCmd(t, env, "", "mail", "failed")
		if out != "" {
			if err := json.Unmarshal([]byte(strings.SplitN(out, "\n", 2)[0]), &dl); err != nil {
				t.Fatalf("mail failed printed %q: %v", out, err)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no dead letter listed within 20 s")
		}
		time.Sleep(50 * time.Millisecond) // polling for the job's final state
	}
	if dl.Kind != "reset" || dl.Attempts != 1 || !strings.Contains(dl.LastError, "verified Sender Identity") ||
		strings.Contains(dl.Recipient, "user000") {
		t.Fatalf("dead letter %+v: want kind reset, 1 attempt, the provider's text and a pseudonym", dl)
	}
	mu.Lock()
	refuse = false
	mu.Unlock()
	if out := runCmd(t, env, "", "mail", "retry", fmt.Sprint(dl.ID)); !strings.Contains(out, "queued again") {
		t.Fatalf("mail retry printed %q", out)
	}
	select {
	case s := <-got:
		if !strings.Contains(s, "user000@example.org") || !strings.Contains(s, "password-reset?token=") {
			t.Fatalf("the retried email is not the reset email: %s", s)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the retried email did not arrive within 20 s")
	}
	var out bytes.Buffer
	if err := run(context.Background(), []string{"mail", "retry", fmt.Sprint(dl.ID)}, environ(env), strings.NewReader(""), &out, io.Discard, nil); err == nil {
		t.Fatal("retrying a delivered message must fail")
	}
}
