package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// server is a running `accountpw serve` on the embedded default, in a
// directory of its own, with one account and a bearer token for it.
type server struct {
	cmd       *exec.Cmd
	dir       string
	base      string // http://127.0.0.1:PORT
	token     string
	slots     int
	budgetMiB int64 // as serve logged it
	laidOut   bool  // serve logged heap_laid_out true
}

// start creates an account, starts serve with GODEBUG=godebug (none when
// empty) and waits until it listens.
func start(bin, godebug string) (*server, error) {
	dir, err := os.MkdirTemp("", "accountpw-load-")
	if err != nil {
		return nil, err
	}
	s := &server{dir: dir, slots: runtime.GOMAXPROCS(0)}
	env := []string{}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GODEBUG=") && !strings.HasPrefix(kv, "GOMEMLIMIT=") && !strings.HasPrefix(kv, "GOGC=") {
			env = append(env, kv)
		}
	}
	env = append(env,
		"GODEBUG="+godebug,
		"ACCOUNTPW_HTTP_ADDR=127.0.0.1:0",
		"ACCOUNTPW_METRICS_ADDR=off",
		"ACCOUNTPW_PASSWORD_HASH_SLOTS="+strconv.Itoa(s.slots),
		// Per-account back-off would turn most of the burst into cheap 429s;
		// this measures the hashing bound, so the limits are off.
		"ACCOUNTPW_LIMITS_DISABLED=true",
		"ACCOUNTPW_LOG_LEVEL=warn",
	)
	cmdIn := func(stdin string, args ...string) (string, error) {
		c := exec.Command(bin, args...)
		c.Dir, c.Env, c.Stdin = dir, env, strings.NewReader(stdin)
		out, err := c.Output()
		return string(out), err
	}
	const pw = "velvet orbit copper lantern"
	out, err := cmdIn(pw+"\n", "users", "create", "--email", "load@example.org", "--password-stdin")
	if err != nil {
		s.stop()
		return nil, fmt.Errorf("users create: %v", err)
	}
	var u struct{ ID string }
	if err := json.Unmarshal([]byte(out), &u); err != nil {
		s.stop()
		return nil, err
	}
	tok, err := cmdIn("", "token", "--user-id", u.ID, "--ttl", "10m")
	if err != nil {
		s.stop()
		return nil, fmt.Errorf("token: %v", err)
	}
	s.token = strings.TrimSpace(tok)

	s.cmd = exec.Command(bin, "serve")
	s.cmd.Dir, s.cmd.Env = dir, append(env, "ACCOUNTPW_LOG_LEVEL=info")
	stdout, _ := s.cmd.StdoutPipe()
	if err := s.cmd.Start(); err != nil {
		s.cmd = nil
		s.stop()
		return nil, err
	}
	if err := s.waitListening(stdout); err != nil {
		s.stop()
		return nil, err
	}
	return s, nil
}

func (s *server) stop() {
	if s.cmd != nil {
		s.cmd.Process.Kill()
		s.cmd.Wait()
	}
	os.RemoveAll(s.dir)
}

var (
	listening = regexp.MustCompile(`"msg":"listening","addr":"([^"]+)"`)
	budget    = regexp.MustCompile(`"msg":"hashing memory mapped".*"memory_budget_mib":(\d+),"heap_laid_out":(true|false)`)
)

// waitListening reads serve's log until it listens, taking the memory
// budget and whether the heap was laid out from the line before, then
// drains the rest.
func (s *server) waitListening(r io.Reader) error {
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			if m := budget.FindSubmatch(sc.Bytes()); m != nil {
				s.budgetMiB, _ = strconv.ParseInt(string(m[1]), 10, 64)
				s.laidOut = string(m[2]) == "true"
			}
			if m := listening.FindSubmatch(sc.Bytes()); m != nil {
				found <- "http://" + string(m[1])
			}
		}
	}()
	select {
	case b := <-found:
		if s.budgetMiB == 0 {
			return fmt.Errorf("serve logged no memory budget")
		}
		s.base = b
		return nil
	case <-time.After(30 * time.Second):
		return fmt.Errorf("serve did not listen within 30 s")
	}
}

// statusKiB reads a "Vm…: N kB" line of the server's /proc/PID/status.
func (s *server) statusKiB(key string) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	for _, line := range bytes.Split(b, []byte("\n")) {
		if f := strings.Fields(string(line)); len(f) >= 2 && f[0] == key+":" {
			v, _ := strconv.ParseInt(f[1], 10, 64)
			return v
		}
	}
	return 0
}
