package main

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
)

// pgbench measures the one-row-insert-per-commit ceiling of the database at
// url with c clients for 5 s: what one commit costs on this machine.
func pgbench(ctx context.Context, url string, c int) (float64, error) {
	db, err := sql.Open("pgx", url)
	if err != nil {
		return 0, err
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS pgbench_ref (id bigserial PRIMARY KEY, v text)`); err != nil {
		return 0, err
	}
	script := filepath.Join(os.TempDir(), "accountpw-pgbench.sql")
	if err := os.WriteFile(script, []byte("INSERT INTO pgbench_ref (v) VALUES ('x');\n"), 0o600); err != nil {
		return 0, err
	}
	out, err := exec.CommandContext(ctx, "pgbench", "-n", "-c", strconv.Itoa(c), "-j", "2", "-T", "5",
		"-f", script, url).CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("pgbench: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`tps = ([0-9.]+)`).FindSubmatch(out)
	if m == nil {
		return 0, fmt.Errorf("pgbench: no tps in\n%s", out)
	}
	return strconv.ParseFloat(string(m[1]), 64)
}
