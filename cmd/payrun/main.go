package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	flag "github.com/spf13/pflag"
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
	// The global options stop at the command's name; each command accepts
	// --config too, so that it may stand anywhere on the line.
	global := flag.NewFlagSet("payrun", flag.ContinueOnError)
	global.SetOutput(io.Discard)
	global.SetInterspersed(false)
	global.Usage = func() {}
	addConfigFlag(global, e)
	help := global.BoolP("help", "h", false, "show help")
	showVersion := global.Bool("version", false, "print the version")
	if err := global.Parse(args); err != nil {
		fmt.Fprintf(stderr, "payrun: %v\n\n", err)
		printHelp(stderr)
		return exitUsage
	}
	rest := global.Args()
	if *showVersion {
		printVersion(stdout)
		return exitOK
	}
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

// addConfigFlag adds --config, which every command accepts wherever it
// stands on the line.
func addConfigFlag(fs *flag.FlagSet, e *env) {
	def := os.Getenv("PAYRUN_CONFIG")
	if e.configPath != "" {
		def = e.configPath
	}
	fs.StringVar(&e.configPath, "config", def, "the configuration `FILE` (YAML; default $PAYRUN_CONFIG, else built-in defaults)")
	// The default comes from the environment or the line before the
	// command: help shows where it comes from, not its value.
	fs.Lookup("config").DefValue = ""
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
  payrun COMMAND [options] [arguments]

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
Options of every command (before or after its name):
  --config FILE   configuration file (YAML; default $PAYRUN_CONFIG, else built-in defaults)
  --help, -h      show help
  --version       print the version (as 'payrun version')

Exit codes: 0 ok, 1 invalid input, 2 usage or configuration error, 3 runtime failure.
Run 'payrun COMMAND --help' for the options of one command.
`)
}

// newFlags returns a command's flag set: options in the GNU style
// (--name, --name=value, anywhere among the arguments), --config among
// them, and --help printing the command's usage.
func newFlags(c *command, e *env) *flag.FlagSet {
	fs := flag.NewFlagSet("payrun "+c.Name, flag.ContinueOnError)
	fs.SortFlags = true
	addConfigFlag(fs, e)
	fs.Usage = func() {
		out := e.stdout
		fmt.Fprintf(out, "Usage: payrun %s\n\n%s\n\nOptions:\n", c.Usage, c.Summary)
		writeFlagUsages(out, fs)
	}
	return fs
}

// writeFlagUsages lists a command's options as its usage line writes
// them: "--dry-run", "--wait DURATION", each with its default.
func writeFlagUsages(w io.Writer, fs *flag.FlagSet) {
	var names, usages []string
	width := 0
	fs.VisitAll(func(f *flag.Flag) {
		varname, usage := flag.UnquoteUsage(f)
		name := "--" + f.Name
		switch typ := f.Value.Type(); {
		case typ == "bool":
		case varname != "" && varname != typ:
			name += " " + varname // named in the usage text, `FILE`
		case typ == "duration":
			name += " DURATION"
		case typ == "int" || typ == "int64":
			name += " N"
		default:
			name += " VALUE"
		}
		if f.Shorthand != "" {
			name = "-" + f.Shorthand + ", " + name
		}
		if def := flagDefault(f); def != "" {
			usage += " (default " + def + ")"
		}
		names, usages = append(names, name), append(usages, usage)
		width = max(width, len(name))
	})
	for i := range names {
		fmt.Fprintf(w, "  %-*s  %s\n", width, names[i], usages[i])
	}
}

// flagDefault is a flag's default as help shows it; "" when there is
// nothing to say (off, empty, zero).
func flagDefault(f *flag.Flag) string {
	switch f.DefValue {
	case "", "false", "0", "[]":
		return ""
	}
	if f.Value.Type() == "duration" {
		if d, err := time.ParseDuration(f.DefValue); err == nil {
			return durationText(d)
		}
	}
	return f.DefValue
}

// durationText is a duration as a person writes it: "10m", "1h30m",
// "500ms", "2.5s" (time.Duration's own form, without its zero units).
func durationText(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// parseFlags parses and turns flag errors into usage errors.
func parseFlags(fs *flag.FlagSet, args []string) error {
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return flag.ErrHelp // the usage has been printed
		}
		msg := strings.TrimSpace(err.Error())
		if strings.Contains(msg, "unknown shorthand flag") {
			for _, a := range args {
				if len(a) > 2 && a[0] == '-' && a[1] != '-' {
					msg += fmt.Sprintf(" (options take two dashes: -%s)", a)
					break
				}
			}
		}
		return usagef("%s", msg)
	}
	return nil
}

// plural is a count with its noun in the number it takes: "1 payout",
// "2 payouts", "0 batches". Of a noun of several words, the last one
// takes the number ("3 webhook events").
func plural(n int, noun string) string {
	if n == 1 || n == -1 {
		return fmt.Sprintf("%d %s", n, noun)
	}
	return fmt.Sprintf("%d %s", n, pluralNoun(noun))
}

func pluralNoun(noun string) string {
	switch {
	case strings.HasSuffix(noun, "ch"), strings.HasSuffix(noun, "sh"), strings.HasSuffix(noun, "s"), strings.HasSuffix(noun, "x"):
		return noun + "es"
	case strings.HasSuffix(noun, "y") && len(noun) > 1 && !strings.ContainsRune("aeiou", rune(noun[len(noun)-2])):
		return noun[:len(noun)-1] + "ies"
	}
	return noun + "s"
}

// isAre is the verb "to be" agreeing with a count.
func isAre(n int) string {
	if n == 1 {
		return "is"
	}
	return "are"
}
