package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/accountpw/accountpw/models"
	"github.com/accountpw/accountpw/services"
	"github.com/accountpw/accountpw/services/sessions"
)

func (a *app) migrateCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "migrate",
		Short: "Apply the database migrations and exit",
		Args:  cobra.NoArgs,
		RunE: a.run(func(ctx context.Context, _ []string) error {
			// Opening the application migrates; nothing else to do.
			return a.withApp(ctx, func(*services.App) error { return nil })
		}),
	}
}

func (a *app) tokenCmd() *cobra.Command {
	var userID string
	var ttl time.Duration
	cmd := &cobra.Command{
		Use:   "token --user-id ID [--ttl 15m]",
		Short: "Print an HS256 bearer token for local testing and Postman",
		Long: "Print an HS256 bearer token for the account ID, signed with the secret serve verifies with:\n" +
			"ACCOUNTPW_AUTH_JWT_SECRET when it is set, else the embedded default's data/jwt_secret if the\n" +
			"server has generated it. It never generates a secret (serve would refuse its tokens), and it\n" +
			"refuses in JWKS mode. Stdout holds only the token; stderr says which secret signed it.",
		Args: cobra.NoArgs,
		RunE: a.run(func(context.Context, []string) error {
			if ttl <= 0 {
				return usage(fmt.Errorf("--ttl must be positive, got %s", ttl))
			}
			// serve refuses a sub that cannot be an account id.
			if err := models.ValidateUserID(userID); err != nil {
				return usage(fmt.Errorf("--user-id: %w", err))
			}
			cfg, _, err := a.setup(false)
			if err != nil {
				return err
			}
			secret, source, err := services.SigningSecret(cfg)
			if err != nil {
				return fmt.Errorf("token: %w", err)
			}
			tok, err := sessions.Issue(secret, cfg.Auth, userID, time.Now(), ttl)
			if err != nil {
				return err
			}
			if _, err := fmt.Fprintln(a.env.Stdout, tok); err != nil {
				return err
			}
			fmt.Fprintf(a.env.Stderr, "signed with %s\n", source)
			return nil
		}),
	}
	cmd.Flags().StringVar(&userID, "user-id", "", "account id, the token's sub claim (required)")
	cmd.Flags().DurationVar(&ttl, "ttl", 15*time.Minute, "lifetime")
	mustRequire(cmd, "user-id")
	return cmd
}

func (a *app) mailCmd() *cobra.Command {
	mail := &cobra.Command{
		Use:   "mail",
		Short: "Inspect and retry emails that could not be delivered",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			return errors.New(`"accountpw mail" needs a command: failed, retry or drop`)
		},
	}
	withQueue := func(f func(ctx context.Context, app *services.App, args []string) error) func(*cobra.Command, []string) error {
		return a.run(func(ctx context.Context, args []string) error {
			return a.withApp(ctx, func(app *services.App) error { return f(ctx, app, args) })
		})
	}
	failed := &cobra.Command{
		Use:   "failed",
		Short: "List dead letters, one JSON line each: id, kind, recipient pseudonym, attempts, last_error, at (\"no dead letters\" on stderr when there are none)",
		Args:  cobra.NoArgs,
		RunE: withQueue(func(ctx context.Context, app *services.App, _ []string) error {
			dl, err := app.Queue.DeadLetters(ctx, 100)
			if err != nil {
				return err
			}
			if len(dl) == 0 {
				// On stderr: stdout is JSON lines, and a script reading it
				// must find none; a person must still see an answer.
				_, err := fmt.Fprintln(a.env.Stderr, "no dead letters")
				return err
			}
			enc := json.NewEncoder(a.env.Stdout)
			for _, d := range dl {
				if err := enc.Encode(d); err != nil {
					return err
				}
			}
			return nil
		}),
	}
	retry := &cobra.Command{
		Use:   "retry ID",
		Short: "Queue dead letter ID again (refused for a reset email past its token lifetime)",
		Args: func(cmd *cobra.Command, args []string) error {
			if err := cobra.ExactArgs(1)(cmd, args); err != nil {
				return err
			}
			if _, err := strconv.ParseInt(args[0], 10, 64); err != nil {
				return fmt.Errorf("ID must be a dead letter's number, got %q", args[0])
			}
			return nil
		},
		RunE: withQueue(func(ctx context.Context, app *services.App, args []string) error {
			id, _ := strconv.ParseInt(args[0], 10, 64) // checked by Args
			if err := app.Queue.Retry(ctx, id); err != nil {
				return err
			}
			_, err := fmt.Fprintf(a.env.Stdout, "message %d queued again\n", id)
			return err
		}),
	}
	drop := &cobra.Command{
		Use:   "drop ID",
		Short: "Delete dead letter ID for good, once dealt with (the dead-letter alert fires while any is kept)",
		Args:  retry.Args,
		RunE: withQueue(func(ctx context.Context, app *services.App, args []string) error {
			id, _ := strconv.ParseInt(args[0], 10, 64) // checked by Args
			if err := app.Queue.Drop(ctx, id); err != nil {
				return err
			}
			_, err := fmt.Fprintf(a.env.Stdout, "message %d dropped\n", id)
			return err
		}),
	}
	mail.AddCommand(failed, retry, drop)
	return mail
}

// mustRequire marks flags as required; cobra refuses a command line without
// them before the command runs (a usage error, status 2).
func mustRequire(cmd *cobra.Command, flags ...string) {
	for _, f := range flags {
		if err := cmd.MarkFlagRequired(f); err != nil {
			panic(err) // a flag name that does not exist: a programming error
		}
	}
}
