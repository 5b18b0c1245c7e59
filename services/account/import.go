package account

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/accountpw/accountpw/models"
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
	// Each hears every line's result, in line order, when its batch
	// committed (or was checked): what the admin API answers per line.
	Each func(models.ImportResult)
	// Progress hears the running totals after every batch.
	Progress func(models.ImportSummary)
}

// ImportNote is one line's problem. Reason never holds an address, a hash
// or another value of the line.
type ImportNote struct {
	Line   int
	Code   string
	Reason string
	// Failed is true for a line that was not imported; false for one that
	// was applied without its hash (the stored password is newer).
	Failed bool
}

// OutcomeError is the Outcome of a line that was not applied.
const OutcomeError = "error"

// CodeHashNotTaken is the code of a line applied without its
// password_hash, because the account's password was set later than the
// line's password_changed_at.
const CodeHashNotTaken = "password_hash_not_taken"

// hashNotTaken is that line's note.
const hashNotTaken = "password_hash not taken: the account's password was set later than the line's password_changed_at"

// noteOf is the ImportNote of a result that has one.
func noteOf(r models.ImportResult) (ImportNote, bool) {
	if r.Code == "" {
		return ImportNote{}, false
	}
	return ImportNote{Line: r.Line, Code: r.Code, Reason: r.Detail, Failed: r.Outcome == OutcomeError}, true
}

// count adds a result to the summary.
func count(s *models.ImportSummary, r models.ImportResult) {
	switch r.Outcome {
	case lineImported:
		s.Imported++
	case lineUpdated:
		s.Updated++
	case lineUnchanged:
		s.Unchanged++
	default:
		s.Errors++
	}
}

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
func (p *Passwords) Import(ctx context.Context, r io.Reader, opts ImportOptions) (models.ImportSummary, error) {
	if opts.BatchSize <= 0 {
		opts.BatchSize = DefaultImportBatch
	}
	im := &importer{p: p, opts: opts, view: newImportView()}
	br := bufio.NewReaderSize(r, MaxImportLine)
	var batch []importLine
	var notes []models.ImportResult // lines that failed before their batch
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
			notes = append(notes, failed(n, perr))
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
	sum  models.ImportSummary
	// view: in a dry run it keeps every decided write, so that later
	// batches are checked against what earlier ones would have written; in
	// a real run the database holds them, and it starts empty per batch.
	view *importView
}

// failed is the result of line n, which err kept out.
func failed(n int, err error) models.ImportResult {
	return models.ImportResult{Line: n, Outcome: OutcomeError, Code: codeOfLine(err), Detail: err.Error()}
}

// flush applies one batch: lines that failed already (notes), the lines in
// batch. Its results are reported only once it committed.
func (im *importer) flush(ctx context.Context, batch []importLine, notes []models.ImportResult) error {
	var (
		results []models.ImportResult
		err     error
	)
	for range importAttempts {
		results, err = im.apply(ctx, batch, notes)
		if !errors.Is(err, store.ErrDuplicate) {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("import: lines %d–%d: %w", firstLine(batch, notes), lastLine(batch, notes), err)
	}
	slices.SortFunc(results, func(a, b models.ImportResult) int { return a.Line - b.Line })
	for _, r := range results {
		count(&im.sum, r)
		if n, ok := noteOf(r); ok && im.opts.Note != nil {
			im.opts.Note(n)
		}
		if im.opts.Each != nil {
			im.opts.Each(r)
		}
	}
	if im.opts.Progress != nil {
		im.opts.Progress(im.sum)
	}
	return nil
}

// apply decides and, unless dry, writes one batch, returning every line's
// result. A store.ErrDuplicate means another writer took an id or address
// meanwhile: nothing was written and the batch can be tried again.
func (im *importer) apply(ctx context.Context, batch []importLine, early []models.ImportResult) ([]models.ImportResult, error) {
	now := im.p.Now()
	results := func(ds []lineDecision) []models.ImportResult {
		out := append(make([]models.ImportResult, 0, len(early)+len(ds)), early...)
		for _, d := range ds {
			out = append(out, d.result())
		}
		return out
	}
	if im.opts.DryRun {
		ds, _, err := im.decideBatch(ctx, im.p.DB.Queries, nil, batch, now)
		return results(ds), err
	}
	var ds []lineDecision
	err := im.p.DB.InTx(ctx, func(tx *store.Tx) error {
		var plan *importPlan
		var err error
		if ds, plan, err = im.decideBatch(ctx, tx.Queries, tx, batch, now); err != nil {
			return err
		}
		return im.write(ctx, tx, plan, now)
	})
	return results(ds), err
}

// lineDecision is a line with what decide made of it: a decision, or the
// error that keeps the line out.
type lineDecision struct {
	l   importLine
	d   importDecision
	err error
}

func (ld lineDecision) result() models.ImportResult {
	if ld.err != nil {
		return failed(ld.l.n, ld.err)
	}
	r := models.ImportResult{Line: ld.l.n, ID: ld.l.id, Outcome: ld.d.outcome}
	if ld.d.kept {
		r.Code, r.Detail = CodeHashNotTaken, hashNotTaken
	}
	return r
}

// decideBatch reads what the batch's lines touch (locked, inside tx; tx is
// nil in a dry run) and decides each line in order against it, returning
// the decisions and the plan of their writes.
func (im *importer) decideBatch(ctx context.Context, q store.Queries, tx *store.Tx, batch []importLine,
	now time.Time) ([]lineDecision, *importPlan, error) {
	plan := newImportPlan()
	if len(batch) == 0 {
		return nil, plan, nil
	}
	ids := make([]string, 0, len(batch))
	keys := make([]string, 0, len(batch))
	for _, l := range batch {
		ids, keys = append(ids, l.id), append(keys, l.key)
	}
	users, err := q.UsersForImport(ctx, ids, keys, tx != nil)
	if err != nil {
		return nil, nil, err
	}
	if tx != nil {
		im.view = newImportView() // the database holds what earlier batches wrote
	}
	im.view.load(users)
	out := make([]lineDecision, len(batch))
	for i, l := range batch {
		d, err := decide(l, im.view, now)
		out[i] = lineDecision{l: l, d: d, err: err}
		if err != nil {
			continue
		}
		if d.outcome != lineUnchanged {
			im.view.set(d.user, d.oldKey)
		}
		plan.add(d)
	}
	return out, plan, nil
}

// ImportBatchAPI is the batch of an admin API import call: the whole call,
// which carries at most this many lines, commits as one transaction.
const ImportBatchAPI = 1000

// ImportAccounts imports the admin API's lines from r as one batch (see
// Import), telling each line's result to each in line order; a dry run
// checks and writes nothing. Errors: as Import's.
func (p *Passwords) ImportAccounts(ctx context.Context, r io.Reader, dryRun bool, each func(models.ImportResult)) (models.ImportSummary, error) {
	return p.Import(ctx, r, ImportOptions{DryRun: dryRun, BatchSize: ImportBatchAPI, Each: each})
}
