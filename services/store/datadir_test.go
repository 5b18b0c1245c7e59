package store_test

import (
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/accountpw/accountpw/services/config"
	"github.com/accountpw/accountpw/services/store"
)

// containerUID is the user distroless's nonroot image runs as.
const containerUID = 65532

// helperDirEnv names the directory the helper process opens the store in.
const helperDirEnv = "STORE_TEST_UNWRITABLE_DIR"

func openIn(dir string) error {
	db, err := store.Open(config.Database{Path: filepath.Join(dir, "accountpw.db")}, slog.New(slog.DiscardHandler))
	if err == nil {
		db.Close()
	}
	return err
}

// TestUnwritableDataDir: SQLite's own error for a directory it cannot write
// to is "out of memory (14)"; Open must say which directory, as which user,
// and what to do, before SQLite gets to it.
func TestUnwritableDataDir(t *testing.T) {
	t.Run("a path under a file", func(t *testing.T) {
		base := t.TempDir()
		if err := os.WriteFile(filepath.Join(base, "file"), nil, 0o600); err != nil {
			t.Fatal(err)
		}
		err := openIn(filepath.Join(base, "file", "data"))
		want := fmt.Sprintf("the data directory %s is not writable by user id %d (not a directory): chown %d the directory",
			filepath.Join(base, "file", "data"), os.Getuid(), os.Getuid())
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "ACCOUNTPW_DATABASE_PATH") {
			t.Errorf("got %v, want an error containing %q and naming ACCOUNTPW_DATABASE_PATH", err, want)
		}
	})

	// Mode bits do not stop root, so as root the real case is reproduced
	// instead: this test binary runs again as the container's user on a
	// directory root owns, like a root-owned bind mount on /app/data.
	t.Run("a directory owned by another user", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "data")
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		uid, got := os.Getuid(), ""
		if os.Geteuid() != 0 {
			if err := os.Chmod(dir, 0o500); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				if err := os.Chmod(dir, 0o700); err != nil { // so that TempDir can remove it
					t.Error(err)
				}
			})
			got = fmt.Sprint(openIn(dir))
		} else {
			uid, got = containerUID, runAsContainerUser(t, dir)
		}
		want := fmt.Sprintf("the data directory %s is not writable by user id %d (permission denied): chown %d the directory", dir, uid, uid)
		if !strings.Contains(got, want) {
			t.Errorf("got %q, want it to contain %q", got, want)
		}
		if entries, _ := os.ReadDir(dir); len(entries) != 0 {
			t.Errorf("the refused directory holds %v", entries)
		}
	})

	t.Run("a writable directory keeps nothing of the check", func(t *testing.T) {
		dir := t.TempDir()
		if err := openIn(dir); err != nil {
			t.Fatal(err)
		}
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), ".accountpw-write-check") {
				t.Errorf("the probe file %s was left behind", e.Name())
			}
		}
	})
}

// runAsContainerUser runs TestHelperOpenAsAnotherUser in a copy of this
// test binary as containerUID and returns what it printed. The copy lives
// in a directory that user may enter, since go test's build directory is
// private to root.
func runAsContainerUser(t *testing.T, dir string) string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	binDir := t.TempDir()
	for d := binDir; d != filepath.Dir(d) && d != os.TempDir(); d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	bin := filepath.Join(binDir, "store.test")
	b, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, b, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-test.run=^TestHelperOpenAsAnotherUser$", "-test.v")
	cmd.Dir = binDir
	cmd.Env = []string{helperDirEnv + "=" + dir}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: containerUID, Gid: containerUID}}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("helper process: %v\n%s", err, out)
	}
	return string(out)
}

// TestHelperOpenAsAnotherUser is the body of runAsContainerUser's process;
// run by go test directly (without the variable) it has nothing to do.
func TestHelperOpenAsAnotherUser(t *testing.T) {
	dir := os.Getenv(helperDirEnv)
	if dir == "" {
		return
	}
	fmt.Printf("uid %d: %v\n", os.Getuid(), openIn(dir))
}
