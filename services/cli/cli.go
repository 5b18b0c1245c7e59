// Package cli is accountpw's command line, built on cobra: the command tree,
// help, usage errors, exit statuses, and every command except serve's HTTP
// wiring, which main passes in as a ServeFunc (nothing under services may
// import handlers, so the router is built in main).
//
// Exit statuses: 0 when the command did its work, and for help and version;
// 1 when the command failed, reported as one line "accountpw: …" on stderr;
// 2 when the command line is wrong (an unknown command, flag or argument, a
// missing required flag or argument, a flag value that does not parse),
// reported as that line followed by the command's usage. When the command
// line is wrong or help is asked for, nothing runs: no configuration is
// read, no database opened, no port bound.
//
// It imports services (the App and the signing secret), services/config and
// services/sessions.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/spf13/cobra"

	"github.com/accountpw/accountpw/services/config"
)

// Exit statuses besides 0.
const (
	ExitFailure = 1
	ExitUsage   = 2
)

// ExitError is a failure together with the exit status it calls for.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string { return e.Err.Error() }

func (e *ExitError) Unwrap() error { return e.Err }

// ExitCode is the process exit status for an error Run returned: 0 for nil,
// the Code of an ExitError, 1 for anything else.
func ExitCode(err error) int {
	var e *ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &e):
		return e.Code
	}
	return ExitFailure
}

// Env is what a command may read and write besides its arguments: the
// process's environment ("NAME=value", as os.Environ returns it) and
// standard streams in main, buffers in tests.
type Env struct {
	Environ []string
	Stdin   io.Reader
	Stdout  io.Writer
	Stderr  io.Writer
}

// ServeFunc runs the HTTP server until ctx ends; cfg has passed Validate and
// log writes JSON lines to standard output.
type ServeFunc func(ctx context.Context, cfg config.Config, log *slog.Logger) error

// Run parses args (without the program name), runs the command they name,
// serve when they name none, and reports a failure on env.Stderr. The
// error it returns is an *ExitError; ExitCode turns it into the status.
func Run(ctx context.Context, args []string, env Env, serve ServeFunc) error {
	a := &app{env: env, serve: serve}
	root := a.root()
	// Never nil: cobra reads os.Args when given nil, which in a test binary
	// are the test flags.
	root.SetArgs(append([]string{}, args...))
	root.SetIn(env.Stdin)
	root.SetOut(env.Stdout)
	root.SetErr(env.Stderr)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return nil
	}
	var failed *ExitError
	if !errors.As(err, &failed) {
		// The commands' own failures are ExitErrors (see app.run); whatever
		// else cobra returns was found while reading the command line.
		failed = &ExitError{Code: ExitUsage, Err: err}
	}
	msg, suggestions := splitSuggestions(failed.Err.Error())
	fmt.Fprintf(env.Stderr, "accountpw: %s\n", oneLine(errors.New(msg)))
	switch len(suggestions) {
	case 0:
	case 1:
		fmt.Fprintf(env.Stderr, "Did you mean this?\n  %s\n", suggestions[0])
	default:
		fmt.Fprintf(env.Stderr, "Did you mean one of these?\n  %s\n", strings.Join(suggestions, "\n  "))
	}
	if failed.Code == ExitUsage {
		fmt.Fprintf(env.Stderr, "\n%s", cmd.UsageString())
	}
	return failed
}

// suggestionsHeading starts cobra's list of commands near an unknown one,
// which follows the error on lines of their own ("\n\nDid you mean
// this?\n\tserve\n\tusers\n").
const suggestionsHeading = "\n\nDid you mean this?\n"

// splitSuggestions parts cobra's error text into the error and the names it
// suggests, so that the error stays one line and the names are printed one
// per line rather than joined into it with "; ".
func splitSuggestions(text string) (string, []string) {
	msg, list, ok := strings.Cut(text, suggestionsHeading)
	if !ok {
		return text, nil
	}
	return msg, strings.Fields(list)
}

// usage marks err as a mistake in the command line found by a command
// itself (a flag value out of range, a missing subcommand).
func usage(err error) error { return &ExitError{Code: ExitUsage, Err: err} }

// oneLine joins the lines of a multi-line error (all configuration problems
// at once, say) with "; " (a space after a line that ends in ":"), so that
// a failure is one line of the log.
func oneLine(err error) string {
	var parts []string
	for line := range strings.Lines(err.Error()) {
		if line = strings.TrimSpace(line); line != "" {
			parts = append(parts, line)
		}
	}
	var b strings.Builder
	for i, p := range parts {
		if i > 0 {
			if strings.HasSuffix(parts[i-1], ":") {
				b.WriteString(" ")
			} else {
				b.WriteString("; ")
			}
		}
		b.WriteString(p)
	}
	return b.String()
}

// app holds what every command shares: the streams, the persistent
// --config flag and the serve function from main.
type app struct {
	env        Env
	serve      ServeFunc
	configPath string
}

// run adapts a command's work to cobra and marks its failures as
// ExitErrors, so that Run can tell them from command-line mistakes.
func (a *app) run(f func(ctx context.Context, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		err := f(cmd.Context(), args)
		var e *ExitError
		if err == nil || errors.As(err, &e) {
			return err
		}
		return &ExitError{Code: ExitFailure, Err: err}
	}
}

// setup loads the configuration (--config, else ./config.yaml if present,
// then the environment) and builds the JSON logger on standard output. A
// one-shot command prints its result there, so only warnings and errors may
// join it.
func (a *app) setup(serving bool) (config.Config, *slog.Logger, error) {
	path, explicit := a.configPath, a.configPath != ""
	if !explicit {
		path = config.DefaultFile
	}
	cfg, err := config.Load(path, explicit, a.env.Environ)
	if err != nil {
		return cfg, nil, fmt.Errorf("configuration: %w", err)
	}
	level, _ := cfg.Log.SlogLevel() // validated by Load
	if !serving {
		level = max(level, slog.LevelWarn)
	}
	return cfg, slog.New(slog.NewJSONHandler(a.env.Stdout, &slog.HandlerOptions{Level: level})), nil
}

// root is the command tree.
func (a *app) root() *cobra.Command {
	root := &cobra.Command{
		Use:   "accountpw",
		Short: "Reset a forgotten password by email, or change a known one",
		Long: "accountpw serves PUT /api/v1/account/password: reset a forgotten password by email,\n" +
			"or change a known one with a bearer session. Without a command it serves.\n\n" +
			"Configuration: defaults < ./config.yaml (or --config) < ACCOUNTPW_* environment variables.\n" +
			"Exit status: 0 done, 1 failed, 2 wrong command line.",
		Version:           Version(),
		SilenceErrors:     true,
		SilenceUsage:      true,
		CompletionOptions: cobra.CompletionOptions{DisableDefaultCmd: true},
		RunE:              a.run(a.serveWithConfig),
	}
	root.SetVersionTemplate("{{.Version}}\n")
	root.PersistentFlags().StringVar(&a.configPath, "config", "", "configuration file (default ./config.yaml if present)")
	root.SetHelpCommand(helpCmd())
	root.AddCommand(
		&cobra.Command{
			Use:   "serve",
			Short: "Apply migrations (unless database.migrate is false) and serve HTTP until SIGTERM or SIGINT",
			Args:  cobra.NoArgs,
			RunE:  a.run(a.serveWithConfig),
		},
		a.migrateCmd(), a.usersCmd(), a.tokenCmd(), a.mailCmd(), a.healthcheckCmd(),
		&cobra.Command{
			Use:   "version",
			Short: "Print the version, VCS revision and Go version of this build",
			Args:  cobra.NoArgs,
			RunE: a.run(func(context.Context, []string) error {
				_, err := fmt.Fprintln(a.env.Stdout, Version())
				return err
			}),
		},
	)
	return root
}

func (a *app) serveWithConfig(ctx context.Context, _ []string) error {
	cfg, log, err := a.setup(true)
	if err != nil {
		return err
	}
	return a.serve(ctx, cfg, log)
}

// helpCmd replaces cobra's help command, which answers an unknown topic
// with the root's usage and exit status 0; here that is a usage error.
func helpCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "help [command]",
		Short: "Help about any command",
		RunE: func(cmd *cobra.Command, args []string) error {
			target, rest, err := cmd.Root().Find(args)
			if err != nil {
				return err
			}
			if len(rest) > 0 {
				return fmt.Errorf("unknown command %q for %q", rest[0], target.CommandPath())
			}
			target.InitDefaultHelpFlag()
			target.InitDefaultVersionFlag()
			return target.Help()
		},
	}
}
