package store

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// prepareDataDir creates dir if it is missing and checks that this process
// can create files in it, before SQLite is opened. SQLite needs the database
// file and, in WAL mode, its -wal and -shm files beside it; without them it
// fails with "unable to open database file: out of memory (14)", which names
// neither the directory nor the cause. The usual case is a container running
// as an unprivileged user with a root-owned directory mounted on its data
// directory.
func prepareDataDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return dataDirError(dir, err)
	}
	return dataDirError(dir, probeDir(dir))
}

// probeDir creates and removes a file in dir. Creating a file is the one
// test that answers for root, ACLs, read-only mounts and security modules
// alike; mode bits and access(2) miss some of them.
func probeDir(dir string) error {
	f, err := os.CreateTemp(dir, ".accountpw-write-check-*")
	if err != nil {
		return err
	}
	name := f.Name()
	return errors.Join(f.Close(), os.Remove(name))
}

// dataDirError says which directory, as which user, why, and what fixes it;
// nil when err is nil.
func dataDirError(dir string, err error) error {
	if err == nil {
		return nil
	}
	if abs, aerr := filepath.Abs(dir); aerr == nil {
		dir = abs
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err // the path is named below, once
	}
	uid := os.Getuid()
	return fmt.Errorf("open database: the data directory %s is not writable by user id %d (%w): "+
		"chown %d the directory, mount a writable volume there, or set ACCOUNTPW_DATABASE_PATH to a writable "+
		"place (or ACCOUNTPW_DATABASE_URL for PostgreSQL)", dir, uid, err, uid)
}
