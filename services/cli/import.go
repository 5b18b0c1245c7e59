package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/accountpw/accountpw/models"
	"github.com/accountpw/accountpw/services"
	"github.com/accountpw/accountpw/services/account"
)

// progressEvery is the shortest time between two progress lines.
const progressEvery = time.Second

func (a *app) importCmd() *cobra.Command {
	var dryRun bool
	cmd := &cobra.Command{
		Use:   "import [FILE|-] [--dry-run]",
		Short: "Create or update accounts from JSON Lines, one account a line, by id",
		Long: "Read accounts from FILE (standard input when it is - or missing), one JSON object a line:\n" +
			"  {\"id\":\"42\",\"email\":\"ann@example.org\",\"password_hash\":\"$2b$12$…\",\"locale\":\"de\",\n" +
			"   \"password_changed_at\":\"2025-01-02T03:04:05Z\"}\n" +
			"id and email are required. Accounts are created or updated by id, so a second run changes\n" +
			"nothing that the first applied. A line that breaks a rule is reported on stderr with its\n" +
			"number and reason (never its address or hash) and the other lines go in; progress goes to\n" +
			"stderr at most once a second, and one JSON summary to stdout:\n" +
			"  {\"imported\":N,\"updated\":N,\"unchanged\":N,\"errors\":N}\n" +
			"The exit status is 1 when any line failed. --dry-run checks every line, against the\n" +
			"database too, and writes nothing. The rules are in docs/adopting.md (Importing).",
		Args: cobra.MaximumNArgs(1),
		RunE: a.run(func(ctx context.Context, args []string) error {
			in, name := a.env.Stdin, "standard input"
			if len(args) == 1 && args[0] != "-" {
				// Opened before the database, so that a wrong path changes nothing.
				f, err := os.Open(args[0])
				if err != nil {
					return fmt.Errorf("users import: %w", err)
				}
				defer f.Close() //nolint:errcheck // only read
				in, name = f, args[0]
			}
			return a.withApp(ctx, func(app *services.App) error { return a.runImport(ctx, app, in, name, dryRun) })
		}),
	}
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "check every line, against the database too, and write nothing")
	return cmd
}

// runImport imports from in and reports as the command's help says.
func (a *app) runImport(ctx context.Context, app *services.App, in io.Reader, name string, dryRun bool) error {
	start := time.Now()
	last := start
	sum, err := app.Passwords.Import(ctx, in, account.ImportOptions{
		DryRun: dryRun,
		Note: func(n account.ImportNote) {
			if n.Failed {
				fmt.Fprintf(a.env.Stderr, "line %d: %s\n", n.Line, n.Reason)
			} else {
				fmt.Fprintf(a.env.Stderr, "line %d: note: %s\n", n.Line, n.Reason)
			}
		},
		Progress: func(s models.ImportSummary) {
			if now := time.Now(); now.Sub(last) >= progressEvery {
				last = now
				fmt.Fprintf(a.env.Stderr, "%d lines, %.0f lines/s\n", s.Lines(), float64(s.Lines())/now.Sub(start).Seconds())
			}
		},
	})
	// The summary first, also after a failure: it counts what committed.
	if jerr := json.NewEncoder(a.env.Stdout).Encode(sum); jerr != nil {
		return jerr
	}
	if err != nil {
		return fmt.Errorf("users import from %s stopped (the lines counted are in; run it again to complete): %w", name, err)
	}
	if sum.Errors > 0 {
		verb := "were not imported"
		if dryRun {
			verb = "would not be imported"
		}
		return fmt.Errorf("%d of %d lines %s (see the lines above)", sum.Errors, sum.Lines(), verb)
	}
	return nil
}
