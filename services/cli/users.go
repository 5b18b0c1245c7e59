package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/accountpw/accountpw/models"
	"github.com/accountpw/accountpw/services"
	"github.com/accountpw/accountpw/services/account"
)

// The users commands: the account lifecycle of the adopting application.
// Each prints JSON on stdout.

func (a *app) usersCmd() *cobra.Command {
	users := &cobra.Command{
		Use:   "users",
		Short: "Manage accounts",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			return errors.New(`"accountpw users" needs a command: create, import, show, list, set-email or delete`)
		},
	}
	var id, email, locale string
	var fromStdin bool
	create := &cobra.Command{
		Use:   "create --email E --password-stdin [--id ID] [--locale TAG]",
		Short: "Create an account; the password is the first line of stdin, and the password policy applies",
		Long: "Create an account and print {\"id\":…,\"email\":…}. The password is the first line of\n" +
			"standard input (never an argument, which other users of the machine could read). --id gives\n" +
			"the account your application's own id (1–128 characters of A–Z a–z 0–9 . _ : @ -), the sub\n" +
			"of its bearer tokens; without it a UUID is generated.",
		Args: cobra.NoArgs,
		RunE: a.run(func(ctx context.Context, _ []string) error {
			if !fromStdin {
				return usage(errors.New("--password-stdin is required: the password is read from standard input only"))
			}
			if id != "" {
				if err := models.ValidateUserID(id); err != nil {
					return usage(fmt.Errorf("--id: %w", err))
				}
			}
			if _, err := models.Languages.ParseLocale(locale); err != nil {
				return usage(fmt.Errorf("--locale: %w", err))
			}
			cfg, log, err := a.setup(false)
			if err != nil {
				return err
			}
			line, err := bufio.NewReader(a.env.Stdin).ReadString('\n')
			if err != nil && !errors.Is(err, io.EOF) {
				return fmt.Errorf("read password: %w", err)
			}
			line = strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
			app, err := services.Open(ctx, cfg, log, services.Options{Migrate: true})
			if err != nil {
				return err
			}
			defer app.Close()
			created, err := app.Passwords.CreateUserWith(ctx, account.NewUser{ID: id, Email: email, Password: line, Locale: locale})
			if err != nil {
				return fmt.Errorf("create user: %w", err)
			}
			return json.NewEncoder(a.env.Stdout).Encode(map[string]string{"id": created.ID, "email": created.Email})
		}),
	}
	create.Flags().StringVar(&id, "id", "", "your application's id for the account (default: a generated UUID)")
	create.Flags().StringVar(&email, "email", "", "address of the account (required)")
	create.Flags().BoolVar(&fromStdin, "password-stdin", false, "read the password from the first line of stdin (required)")
	create.Flags().StringVar(&locale, "locale", "", "the account's language for its emails: en, de, fr or es (default: the request's)")
	mustRequire(create, "email", "password-stdin")
	users.AddCommand(create, a.importCmd(), a.showCmd(), a.listCmd(), a.setEmailCmd(), a.deleteCmd())
	return users
}

// withApp runs f with the application opened (and migrated) under the
// configuration; usage problems must have been found before.
func (a *app) withApp(ctx context.Context, f func(app *services.App) error) error {
	cfg, log, err := a.setup(false)
	if err != nil {
		return err
	}
	app, err := services.Open(ctx, cfg, log, services.Options{Migrate: true})
	if err != nil {
		return err
	}
	defer app.Close()
	return f(app)
}

// idFlag adds the required --id flag of the commands on one account.
func idFlag(cmd *cobra.Command, id *string) {
	cmd.Flags().StringVar(id, "id", "", "the account's id (required)")
	mustRequire(cmd, "id")
}

// checkID refuses an --id that cannot be an account id, as a usage error.
func checkID(id string) error {
	if err := models.ValidateUserID(id); err != nil {
		return usage(fmt.Errorf("--id: %w", err))
	}
	return nil
}

// accountError says which command failed and why. An unknown id
// (account.ErrNoAccount) is a failure, status 1, not a mistake in the
// command line: the line was well-formed, the account is not there.
func accountError(op string, err error) error { return fmt.Errorf("%s: %w", op, err) }

func (a *app) showCmd() *cobra.Command {
	var id, email string
	cmd := &cobra.Command{
		Use:   "show (--id ID | --email E)",
		Short: "Print an account as JSON: id, email, locale, created_at, password_changed_at, hash_format (never the hash)",
		Long: "Print the account with the id ID, or the account of the address E (ASCII letters in any\n" +
			"case, as every lookup compares addresses), as one JSON object. Never the hash, only its format.",
		Args: cobra.NoArgs,
		RunE: a.run(func(ctx context.Context, _ []string) error {
			switch {
			case (id == "") == (email == ""):
				return usage(errors.New("give exactly one of --id and --email"))
			case id != "":
				if err := checkID(id); err != nil {
					return err
				}
			case models.ValidateEmail(email) != nil:
				return usage(errors.New("--email: not a valid address"))
			}
			return a.withApp(ctx, func(app *services.App) error {
				var info models.AccountInfo
				var err error
				if id != "" {
					info, err = app.Passwords.Account(ctx, id)
				} else {
					info, err = app.Passwords.AccountByEmail(ctx, email)
				}
				if err != nil {
					return accountError("users show", err)
				}
				return json.NewEncoder(a.env.Stdout).Encode(info)
			})
		}),
	}
	cmd.Flags().StringVar(&id, "id", "", "the account's id")
	cmd.Flags().StringVar(&email, "email", "", "the account's address")
	return cmd
}

func (a *app) listCmd() *cobra.Command {
	var after string
	var limit int
	cmd := &cobra.Command{
		Use:   "list [--after ID] [--limit N]",
		Short: "Print accounts as JSON Lines, in the byte order of their ids",
		Long: "Print every account, one JSON object a line (as users show prints one), in the byte order\n" +
			"of their ids, read from the database a page of 1000 at a time. --after starts after the\n" +
			"account ID; --limit stops after N accounts. Never a hash, only its format.",
		Args: cobra.NoArgs,
		RunE: a.run(func(ctx context.Context, _ []string) error {
			if after != "" && models.ValidateUserID(after) != nil {
				return usage(fmt.Errorf("--after: %w", models.ErrInvalidUserID))
			}
			if limit < 0 {
				return usage(errors.New("--limit: a number of accounts, 0 for all"))
			}
			return a.withApp(ctx, func(app *services.App) error {
				enc := json.NewEncoder(a.env.Stdout)
				for printed := 0; limit == 0 || printed < limit; {
					size := account.MaxPageSize
					if limit > 0 {
						size = min(size, limit-printed)
					}
					page, err := app.Passwords.Accounts(ctx, after, size)
					if err != nil {
						return accountError("users list", err)
					}
					for _, info := range page.Accounts {
						if err := enc.Encode(info); err != nil {
							return err
						}
					}
					printed += len(page.Accounts)
					if page.NextAfter == "" {
						break
					}
					after = page.NextAfter
				}
				return nil
			})
		}),
	}
	cmd.Flags().StringVar(&after, "after", "", "start after the account with this id")
	cmd.Flags().IntVar(&limit, "limit", 0, "print at most this many accounts (0: all)")
	return cmd
}

func (a *app) setEmailCmd() *cobra.Command {
	var id, email string
	cmd := &cobra.Command{
		Use:   "set-email --id ID --email E",
		Short: "Move an account to another address; its outstanding reset links stop working",
		Long: "Move the account ID to the address E and print {\"id\":…,\"email\":…}. Every outstanding\n" +
			"reset link ends, and the next reset email goes to E. The password and sessions stay. An\n" +
			"address that another account has is refused.",
		Args: cobra.NoArgs,
		RunE: a.run(func(ctx context.Context, _ []string) error {
			if err := checkID(id); err != nil {
				return err
			}
			if models.ValidateEmail(email) != nil {
				return usage(errors.New("--email: not a valid address"))
			}
			return a.withApp(ctx, func(app *services.App) error {
				if err := app.Passwords.SetEmail(ctx, id, email); err != nil {
					return accountError("users set-email", err)
				}
				return json.NewEncoder(a.env.Stdout).Encode(map[string]string{"id": id, "email": email})
			})
		}),
	}
	idFlag(cmd, &id)
	cmd.Flags().StringVar(&email, "email", "", "the new address (required)")
	mustRequire(cmd, "email")
	return cmd
}

func (a *app) deleteCmd() *cobra.Command {
	var id string
	cmd := &cobra.Command{
		Use:   "delete --id ID",
		Short: "Delete an account and its reset links; emails already queued for it are not sent",
		Args:  cobra.NoArgs,
		RunE: a.run(func(ctx context.Context, _ []string) error {
			if err := checkID(id); err != nil {
				return err
			}
			return a.withApp(ctx, func(app *services.App) error {
				if err := app.Passwords.DeleteUser(ctx, id); err != nil {
					return accountError("users delete", err)
				}
				return json.NewEncoder(a.env.Stdout).Encode(map[string]any{"id": id, "deleted": true})
			})
		}),
	}
	idFlag(cmd, &id)
	return cmd
}
