package main

import (
	"context"
	"os"
	"path/filepath"
)

// sqliteMode runs the email load against the embedded SQLite default (a new
// data directory each run).
func sqliteMode(ctx context.Context, o options, run int) (any, error) {
	p, err := newProvider(0)
	if err != nil {
		return nil, err
	}
	defer p.close()
	dir, err := os.MkdirTemp(o.dir, "sqlite-")
	if err != nil {
		return nil, err
	}
	file := filepath.Join(dir, "data", "accountpw.db")
	env := baseEnv("", p.url)
	env = append(env, "ACCOUNTPW_DATABASE_PATH="+file)
	if _, err := cli(ctx, o.bin, o.dir, env, "", "migrate"); err != nil {
		return nil, err
	}
	pool := o.ips / 2
	known, unknown := addresses("known", pool), addresses("nobody", pool)
	if err := seed(ctx, "file:"+file+"?_pragma=busy_timeout(10000)", known); err != nil {
		return nil, err
	}
	s, err := startServe(ctx, o.bin, o.dir, env)
	if err != nil {
		return nil, err
	}
	loadEmail(ctx, s.base, o.c, o.ips, warmIPs, o.duration/4, addresses("warm", 500), addresses("warmu", 500))
	res := loadEmail(ctx, s.base, o.c, o.ips, 0, o.duration, known, unknown)
	s.stop()
	_ = run
	return map[string]any{"email": res, "log": logCounts(s.log)}, nil
}
