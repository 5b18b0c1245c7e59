// Command pipeline measures accountpw's reset pipeline as a client sees it:
// a running `accountpw serve` (built from this tree) on PostgreSQL, driven
// over HTTP, beside references measured in the same run.
//
//	go run ./.ci/pipeline [-modes email,drain,lag,hashing,sqlite,admin] [-runs 3]
//
// Modes:
//
//	email    {"email"} at -c concurrency for -duration, from -ips distinct
//	         client addresses (the tool binds source addresses in 127/8), half
//	         known and half unknown addresses drawn from pools of equal size,
//	         production limits; req/s, p50/p99 overall and per group, and the
//	         ratio to pgbench's one-row-insert ceiling measured in the same run.
//	drain    a backlog of -backlog reset jobs (queued in-process while no
//	         worker runs) drained by a fresh serve: unknown addresses (jobs/s),
//	         known addresses to a provider answering at once and in 100 ms
//	         (emails/s).
//	lag      -rate {"email"}/s of known addresses for -lagfor; the time from
//	         each 202 to the fake provider's acceptance of that email.
//	hashing  {"token","new"} and {"old","new"} over HTTP at c=1 and c=2 after
//	         a warm-up, against raw argon2id (64 MiB, t=3, p=4) measured in
//	         this process at the same concurrency.
//	sqlite   the email mode against the embedded SQLite default.
//	admin    the admin API: sign-in checks at c=1 and c=2 against raw
//	         argon2id in the same rounds, known and unknown accounts' medians
//	         interleaved, and the import's lines/s (1,000 lines a call, one
//	         client and two) beside pgbench in the same run.
//	replicas three serve processes behind HAProxy on one PostgreSQL, under
//	         3,000 {"email"} from many client addresses, 50 resets and 50
//	         changes, while one replica is killed (SIGKILL) and restarted and
//	         another loses its database for 5 s; checks that nothing is lost
//	         and nothing answers 500 (not in the default modes: -modes replicas).
//
// It prints one JSON summary on stdout (progress on stderr). It needs
// PostgreSQL on 127.0.0.1:5432 (trust auth; -admin) and pgbench; it creates
// and drops a database per run, talks only to 127.0.0.0/8 and stops every
// process it started.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"time"
)

type options struct {
	bin, admin   string
	runs, c, ips int
	duration     time.Duration
	backlog      int
	rate         int
	lagFor       time.Duration
	hashes       int
	keep         bool
	modes        map[string]bool
	dir          string
}

func main() {
	var o options
	var modes string
	flag.StringVar(&modes, "modes", "email,drain,lag,hashing,sqlite,admin", "what to measure, comma-separated (also: replicas)")
	flag.StringVar(&o.bin, "bin", "", "accountpw binary (default: build one)")
	flag.StringVar(&o.admin, "admin", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable", "maintenance database")
	flag.IntVar(&o.runs, "runs", 3, "runs of each mode")
	flag.IntVar(&o.c, "c", 16, "concurrent clients for the email mode")
	flag.IntVar(&o.ips, "ips", 20000, "distinct client addresses for the email mode")
	flag.DurationVar(&o.duration, "duration", 10*time.Second, "length of each email run")
	flag.IntVar(&o.backlog, "backlog", 20000, "jobs in each drain backlog")
	flag.IntVar(&o.rate, "rate", 300, "{\"email\"}/s of the lag mode")
	flag.DurationVar(&o.lagFor, "lagfor", 20*time.Second, "length of the lag mode")
	flag.IntVar(&o.hashes, "hashes", 12, "measured requests per hashing branch and concurrency")
	flag.BoolVar(&o.keep, "keep", false, "keep the serve logs")
	flag.Parse()
	o.modes = map[string]bool{}
	for _, m := range strings.Split(modes, ",") {
		o.modes[strings.TrimSpace(m)] = true
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	summary, err := run(ctx, o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "pipeline:", err)
		os.Exit(1)
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	_ = enc.Encode(summary)
}

// progress writes one line on stderr.
func progress(format string, a ...any) {
	fmt.Fprintf(os.Stderr, time.Now().Format("15:04:05 ")+format+"\n", a...)
}

func run(ctx context.Context, o options) (map[string]any, error) {
	dir, err := os.MkdirTemp("", "accountpw-pipeline-")
	if err != nil {
		return nil, err
	}
	o.dir = dir
	if !o.keep {
		defer os.RemoveAll(dir)
	}
	if o.bin == "" {
		o.bin = filepath.Join(dir, "accountpw")
		progress("building accountpw")
		if err := build(o.bin); err != nil {
			return nil, err
		}
	}
	summary := map[string]any{"machine": machine(), "options": map[string]any{
		"runs": o.runs, "c": o.c, "ips": o.ips, "duration": o.duration.String(), "backlog": o.backlog,
		"rate": o.rate, "lag_for": o.lagFor.String(), "hashes": o.hashes}}
	type step struct {
		name string
		fn   func(context.Context, options, int) (any, error)
	}
	for _, s := range []step{{"email", emailMode}, {"drain", drainMode}, {"lag", lagMode},
		{"hashing", hashingMode}, {"sqlite", sqliteMode}, {"admin", adminMode}, {"replicas", replicasMode}} {
		if !o.modes[s.name] {
			continue
		}
		var results []any
		for r := range o.runs {
			progress("%s: run %d of %d", s.name, r+1, o.runs)
			res, err := s.fn(ctx, o, r)
			if err != nil {
				return nil, fmt.Errorf("%s run %d: %w", s.name, r+1, err)
			}
			results = append(results, res)
		}
		summary[s.name] = results
	}
	return summary, nil
}
