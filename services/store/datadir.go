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

// privateFile makes the SQLite file at path readable and writable by this
// user alone (0600), creating it empty if it is missing, and tightens its
// -wal and -shm files if they exist: the file holds password hashes. The
// mode is set explicitly, so the umask does not matter; SQLite creates the
// -wal and -shm files later with the database file's mode. It returns the
// file's identity, for sameFile.
func privateFile(path string) (os.FileInfo, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err == nil && fi.Mode().Perm() != 0o600 {
		err = f.Chmod(0o600)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, err
	}
	for _, companion := range []string{path + "-wal", path + "-shm"} {
		if err := os.Chmod(companion, 0o600); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
	}
	return fi, nil
}

// errFileMoved says the path no longer leads to the SQLite file that was
// opened: removed, or replaced by another file.
var errFileMoved = errors.New("the database file was removed or replaced since it was opened")

// checkFile refuses to use a SQLite file that was removed or replaced since
// it was opened (nil on PostgreSQL). Open connections would go on reading
// and writing the unlinked file without an error, so that every write,
// a queued reset email included, would be acknowledged and then lost at the
// next start; with this check every statement answers 503 instead, and so
// does the readiness probe, until someone restores the file or restarts.
// It costs one stat(2) per statement.
func (d *DB) checkFile() error {
	if d == nil || d.file == nil {
		return nil
	}
	return sameFile(d.path, d.file)
}

// sameFile checks that path still leads to the file opened as opened.
func sameFile(path string, opened os.FileInfo) error {
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) || (err == nil && !os.SameFile(fi, opened)) {
		return errFileMoved
	}
	return err
}
