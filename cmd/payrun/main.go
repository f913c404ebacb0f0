package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"sort"
	"strings"
	"syscall"
)

// Exit codes, documented in the README.
const (
	exitOK      = 0
	exitInvalid = 1 // invalid input: a file or row that cannot be accepted
	exitUsage   = 2 // usage or configuration error
	exitRuntime = 3 // runtime failure: journal, network, provider outage
)

// command is one subcommand. Run gets the arguments after the command name.
type command struct {
	Name    string
	Summary string
	Usage   string
	Run     func(ctx context.Context, env *env, args []string) error
}

// env is what every command gets: standard streams and the global flags.
type env struct {
	stdout, stderr io.Writer
	configPath     string
}

// commands is the one list of subcommands, in the order --help shows them.
func commands() []command {
	return []command{
		cmdValidate(),
		cmdIngest(),
		cmdTemplate(),
		cmdProcess(),
		cmdResume(),
		cmdReconcile(),
		cmdApprove(), cmdRelease(), cmdHold(), cmdSend(), cmdReportNow(),
		cmdReport(),
		cmdServe(),
		cmdStatus(),
		cmdSandbox(),
		cmdDemo(),
		cmdBench(),
		cmdConfig(),
		cmdJournal(),
		cmdVersion(),
	}
}

// usageError is a mistake in how payrun was called (exit 2).
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, a ...any) error { return &usageError{fmt.Sprintf(format, a...)} }

// invalidInputError means the input was refused (exit 1); its message has
// already been printed in full.
type invalidInputError struct{ msg string }

func (e *invalidInputError) Error() string { return e.msg }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	e := &env{stdout: stdout, stderr: stderr}
	global := flag.NewFlagSet("payrun", flag.ContinueOnError)
	global.SetOutput(io.Discard)
	global.StringVar(&e.configPath, "config", os.Getenv("PAYRUN_CONFIG"), "configuration file (YAML)")
	help := global.Bool("help", false, "show help")
	global.BoolVar(help, "h", false, "show help")
	if err := global.Parse(args); err != nil {
		fmt.Fprintf(stderr, "payrun: %v\n\n", err)
		printHelp(stderr)
		return exitUsage
	}
	rest := global.Args()
	if *help || len(rest) == 0 {
		printHelp(stdout)
		if len(rest) == 0 && !*help {
			return exitUsage
		}
		return exitOK
	}
	name := rest[0]
	if name == "help" {
		if len(rest) > 1 {
			return run(ctx, []string{rest[1], "--help"}, stdout, stderr)
		}
		printHelp(stdout)
		return exitOK
	}
	for _, c := range commands() {
		if c.Name != name {
			continue
		}
		return runCommand(ctx, c, e, rest[1:])
	}
	fmt.Fprintf(stderr, "payrun: unknown command %q\n\n", name)
	printHelp(stderr)
	return exitUsage
}

// runCommand runs one command. A panic is a bug of payrun's, never the
// user's input: it is reported in one line with where the details went,
// not as a Go stack on the user's terminal.
func runCommand(ctx context.Context, c command, e *env, args []string) (code int) {
	defer func() {
		p := recover()
		if p == nil {
			return
		}
		where := "(could not be written)"
		if f, err := os.CreateTemp("", "payrun-crash-*.txt"); err == nil {
			fmt.Fprintf(f, "payrun %s: %v\n\n%s", c.Name, p, debug.Stack())
			where = f.Name()
			f.Close()
		}
		fmt.Fprintf(e.stderr, "payrun %s: internal error: %v\nThis is a bug in payrun; nothing was lost (the journal is written before anything is acknowledged). Details: %s\n", c.Name, p, where)
		code = exitRuntime
	}()
	return exitCode(e.stderr, c.Name, c.Run(ctx, e, args))
}

func exitCode(stderr io.Writer, name string, err error) int {
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	var ue *usageError
	var ie *invalidInputError
	switch {
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "payrun %s: %v\n(run 'payrun %s --help' for usage)\n", name, err, name)
		return exitUsage
	case errors.As(err, &ie):
		fmt.Fprintf(stderr, "payrun %s: %v\n", name, err)
		return exitInvalid
	case isConfigError(err):
		fmt.Fprintf(stderr, "payrun %s: %v\n", name, err)
		return exitUsage
	}
	fmt.Fprintf(stderr, "payrun %s: %v\n", name, err)
	return exitRuntime
}

func printHelp(w io.Writer) {
	fmt.Fprint(w, `payrun: bulk payouts, paid exactly once, reconciled to the cent.

Usage:
  payrun [--config FILE] COMMAND [options]

Commands:
`)
	cmds := commands()
	width := 0
	for _, c := range cmds {
		width = max(width, len(c.Name))
	}
	for _, c := range cmds {
		fmt.Fprintf(w, "  %-*s  %s\n", width, c.Name, c.Summary)
	}
	fmt.Fprint(w, `
Global options:
  --config FILE   configuration file (YAML; default $PAYRUN_CONFIG, else built-in defaults)

Exit codes: 0 ok, 1 invalid input, 2 usage or configuration error, 3 runtime failure.
Run 'payrun COMMAND --help' for the options of one command.
`)
}

// newFlags returns a flag set for a command whose --help prints its usage.
func newFlags(c *command, e *env) *flag.FlagSet {
	fs := flag.NewFlagSet("payrun "+c.Name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		out := e.stdout
		fmt.Fprintf(out, "Usage: payrun %s\n\n%s\n", c.Usage, c.Summary)
		var names []string
		fs.VisitAll(func(f *flag.Flag) { names = append(names, f.Name) })
		sort.Strings(names)
		if len(names) > 0 {
			fmt.Fprintln(out, "\nOptions:")
			fs.SetOutput(out)
			fs.PrintDefaults()
			fs.SetOutput(e.stderr)
		}
	}
	return fs
}

// parseFlags parses and turns flag errors into usage errors.
func parseFlags(fs *flag.FlagSet, args []string) error {
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return flag.ErrHelp // the flag package has printed the usage
		}
		return usagef("%s", strings.TrimSpace(err.Error()))
	}
	return nil
}
