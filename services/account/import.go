package account

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/accountpw/accountpw/services/store"
)

// Import limits.
const (
	// DefaultImportBatch is how many lines one transaction applies: enough
	// that a batch costs a few round trips for hundreds of lines, few
	// enough that a batch holds its rows locked for milliseconds.
	DefaultImportBatch = 500
	// MaxImportLine is the longest line read; a longer one is an error for
	// that line (an account is a few hundred bytes).
	MaxImportLine = 64 << 10
	// importAttempts bounds how often a batch is tried again after a
	// concurrent writer took an id or address between its read and write.
	importAttempts = 3
)

// ImportOptions change how Import runs.
type ImportOptions struct {
	// DryRun checks every line, against the database too (addresses held
	// by other ids), and writes nothing.
	DryRun bool
	// BatchSize is the number of accounts per transaction; 0 means
	// DefaultImportBatch.
	BatchSize int
	// Note hears, in line order, every line that was not imported and every
	// line whose hash was not taken. Called after the line's batch
	// committed (or was checked, in a dry run).
	Note func(ImportNote)
	// Progress hears the running totals after every batch.
	Progress func(ImportSummary)
}

// ImportNote is one line's problem. Reason never holds an address, a hash
// or another value of the line.
type ImportNote struct {
	Line   int
	Reason string
	// Failed is true for a line that was not imported; false for one that
	// was applied without its hash (the stored password is newer).
	Failed bool
}

// ImportSummary counts lines by what they did.
type ImportSummary struct {
	Imported  int `json:"imported"`
	Updated   int `json:"updated"`
	Unchanged int `json:"unchanged"`
	Errors    int `json:"errors"`
}

// Lines is the number of account lines counted (blank lines are not).
func (s ImportSummary) Lines() int { return s.Imported + s.Updated + s.Unchanged + s.Errors }

// Import reads accounts from r, one JSON object per line (JSON Lines):
// {"id","email"} and optionally "password_hash", "locale" and
// "password_changed_at". It upserts them by id, batch by batch, each batch
// one transaction, so an interruption leaves whole batches applied and a
// run again completes the rest (a line already applied is unchanged). A
// line that breaks a rule is reported through opts.Note and counted, and
// the other lines go in; blank lines are skipped. The rules for existing
// accounts are decide's. When a line replaces the password hash of an
// existing account, its reset tokens end and a password.changed event
// (method import) is queued in the same transaction; a new account has no
// event (the application that imports it already knows it). Import
// computes no hash.
//
// Errors: reading r, or a database error, which stops the import; the
// summary then counts the lines of the batches that committed.
func (p *Passwords) Import(ctx context.Context, r io.Reader, opts ImportOptions) (ImportSummary, error) {
	if opts.BatchSize <= 0 {
		opts.BatchSize = DefaultImportBatch
	}
	im := &importer{p: p, opts: opts, view: newImportView()}
	br := bufio.NewReaderSize(r, MaxImportLine)
	var batch []importLine
	var notes []ImportNote
	for n := 1; ; n++ {
		raw, err := readLine(br)
		if errors.Is(err, io.EOF) && raw == nil {
			break
		}
		if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, errLineTooLong) {
			return im.sum, fmt.Errorf("import: read line %d: %w", n, err)
		}
		if n == 1 {
			raw = bytes.TrimPrefix(raw, []byte("\uFEFF")) // a byte-order mark some editors write
		}
		switch l, perr := parseRaw(n, raw, err, p.Now(), p.Hasher.CheckImport); {
		case errors.Is(perr, errBlankLine):
		case perr != nil:
			notes = append(notes, ImportNote{Line: n, Reason: perr.Error(), Failed: true})
		default:
			batch = append(batch, l)
		}
		if len(batch) >= opts.BatchSize {
			if err := im.flush(ctx, batch, notes); err != nil {
				return im.sum, err
			}
			batch, notes = batch[:0], notes[:0]
		}
	}
	if len(batch) > 0 || len(notes) > 0 {
		if err := im.flush(ctx, batch, notes); err != nil {
			return im.sum, err
		}
	}
	return im.sum, nil
}

// importer carries an import's running state from batch to batch.
type importer struct {
	p    *Passwords
	opts ImportOptions
	sum  ImportSummary
	// view: in a dry run it keeps every decided write, so that later
	// batches are checked against what earlier ones would have written; in
	// a real run the database holds them, and it starts empty per batch.
	view *importView
}

// flush applies one batch: parse errors already found in notes, the lines
// in batch. Its notes and counts are reported only once it committed.
func (im *importer) flush(ctx context.Context, batch []importLine, notes []ImportNote) error {
	var (
		counts ImportSummary
		all    []ImportNote
		err    error
	)
	for range importAttempts {
		counts, all, err = im.apply(ctx, batch, notes)
		if !errors.Is(err, store.ErrDuplicate) {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("import: lines %d–%d: %w", firstLine(batch, notes), lastLine(batch, notes), err)
	}
	slices.SortFunc(all, func(a, b ImportNote) int { return a.Line - b.Line })
	if im.opts.Note != nil {
		for _, n := range all {
			im.opts.Note(n)
		}
	}
	im.sum.Imported += counts.Imported
	im.sum.Updated += counts.Updated
	im.sum.Unchanged += counts.Unchanged
	im.sum.Errors += counts.Errors
	if im.opts.Progress != nil {
		im.opts.Progress(im.sum)
	}
	return nil
}

// apply decides and, unless dry, writes one batch, returning its counts and
// notes. A store.ErrDuplicate means another writer took an id or address
// meanwhile: nothing was written and the batch can be tried again.
func (im *importer) apply(ctx context.Context, batch []importLine, parseNotes []ImportNote) (ImportSummary, []ImportNote, error) {
	ids := make([]string, 0, len(batch))
	keys := make([]string, 0, len(batch))
	for _, l := range batch {
		ids, keys = append(ids, l.id), append(keys, l.key)
	}
	now := im.p.Now()
	run := func(q store.Queries, tx *store.Tx) (ImportSummary, []ImportNote, error) {
		counts := ImportSummary{Errors: len(parseNotes)}
		notes := append([]ImportNote(nil), parseNotes...)
		if len(batch) == 0 {
			return counts, notes, nil
		}
		users, err := q.UsersForImport(ctx, ids, keys, tx != nil)
		if err != nil {
			return counts, nil, err
		}
		if tx != nil {
			im.view = newImportView() // the database holds what earlier batches wrote
		}
		im.view.load(users)
		plan := newImportPlan()
		for _, l := range batch {
			d, err := decide(l, im.view, now)
			if err != nil {
				counts.Errors++
				notes = append(notes, ImportNote{Line: l.n, Reason: err.Error(), Failed: true})
				continue
			}
			if d.kept {
				notes = append(notes, ImportNote{Line: l.n, Reason: "password_hash not taken: the account's password " +
					"was set later than the line's password_changed_at"})
			}
			switch d.outcome {
			case lineImported:
				counts.Imported++
			case lineUpdated:
				counts.Updated++
			default:
				counts.Unchanged++
			}
			if d.outcome != lineUnchanged {
				im.view.set(d.user, d.oldKey)
			}
			plan.add(d)
		}
		if tx == nil {
			return counts, notes, nil
		}
		return counts, notes, im.write(ctx, tx, plan, now)
	}
	if im.opts.DryRun {
		return run(im.p.DB.Queries, nil)
	}
	var (
		counts ImportSummary
		notes  []ImportNote
	)
	err := im.p.DB.InTx(ctx, func(tx *store.Tx) error {
		var err error
		counts, notes, err = run(tx.Queries, tx)
		return err
	})
	return counts, notes, err
}
