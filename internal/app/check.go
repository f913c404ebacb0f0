package app

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/payrun/payrun/internal/config"
	"github.com/payrun/payrun/journal/drivers"
	"github.com/payrun/payrun/providers"
	"github.com/payrun/payrun/reports"
)

// CheckOptions say how far Check looks beyond the configuration itself.
type CheckOptions struct {
	// Connect also connects to the SMTP server (config check --connect).
	Connect bool
}

// Checked is what Check found: Problems stop start-up (exit 2); Notes
// are worth saying and stop nothing (a folder start-up will create).
type Checked struct {
	Problems []string
	Notes    []string
	// Providers counts the enabled providers that were built.
	Providers int
}

// Err is the problems as one *config.Error naming the file; nil when
// there are none.
func (c Checked) Err(path string) error {
	if len(c.Problems) == 0 {
		return nil
	}
	return &config.Error{Path: path, Problems: c.Problems}
}

// LoadChecked reads the configuration at path ("" is the built-in
// defaults) and checks it as start-up does (see Check): every problem of
// the file and of what it refers to, in one *config.Error.
func LoadChecked(ctx context.Context, path string, o CheckOptions) (*config.Config, Checked, error) {
	var cfg *config.Config
	var problems []string
	if path == "" {
		cfg = config.Default()
		problems = cfg.Problems()
	} else {
		var err error
		if cfg, problems, err = config.Read(path); err != nil {
			return nil, Checked{}, err
		}
	}
	c := Check(ctx, cfg, o)
	c.Problems = append(problems, c.Problems...)
	return cfg, c, c.Err(cfg.Path)
}

// Check is what start-up checks beyond the configuration's values
// (config.Problems, which it does not repeat): an enabled provider at
// least, every secret reference resolved, the journal's too (each one
// that fails is named, not only the first), every enabled provider's
// client built from its settings, the journal's and every folder's place
// writable (a missing folder is a note: start-up creates it, when its
// parent lets it), and, with o.Connect, the SMTP server reached.
// `payrun config check` and `payrun serve` run it, so they say the same.
func Check(ctx context.Context, cfg *config.Config, o CheckOptions) Checked {
	var c Checked
	problem := func(format string, a ...any) { c.Problems = append(c.Problems, fmt.Sprintf(format, a...)) }
	names := EnabledProviders(cfg)
	if len(names) == 0 {
		problem("providers: no provider is enabled (providers.<name>.enabled: true); try 'payrun demo' or 'payrun sandbox'")
	}
	for _, name := range names {
		pc := cfg.Providers[name]
		bad := false
		for _, f := range config.SecretFields(pc) {
			if f.Ref == "" || !providers.IsSecretRef(f.Ref) {
				continue // absent (the client says if it needs it), or a literal (config.Problems said so)
			}
			if _, err := providers.Secret(f.Ref); err != nil {
				problem("providers.%s.%s %s: %v", name, f.Key, f.Ref, err)
				bad = true
			}
		}
		if bad || config.CheckURL(pc.BaseURL) != nil {
			continue // said already; building would say it again, less clearly
		}
		if _, err := buildProvider(cfg, name, ""); err != nil {
			c.Problems = append(c.Problems, err.Error())
			continue
		}
		c.Providers++
	}
	s := cfg.Reports.SMTP
	smtpOK := true
	if s.Host != "" && s.Password != "" && providers.IsSecretRef(s.Password) {
		if _, err := providers.Secret(s.Password); err != nil {
			problem("reports.smtp.password %s: %v", s.Password, err)
			smtpOK = false
		}
	}
	if _, err := drivers.Resolve(cfg.Journal); err != nil {
		c.Problems = append(c.Problems, err.Error())
	} else if j := JournalFile(cfg); j != "" {
		if st, err := os.Stat(j); err == nil && st.IsDir() {
			problem("journal %s: is a directory, not a journal file", j)
		} else if err == nil {
			if unix.Access(j, unix.R_OK|unix.W_OK) != nil {
				problem("journal %s: not readable and writable by this user", j)
			}
		} else if p, n := folderProblem("journal", filepath.Dir(j)); p != "" {
			c.Problems = append(c.Problems, p)
		} else if n != "" {
			c.Notes = append(c.Notes, n)
		}
	}
	for _, d := range folders(cfg) {
		p, n := folderProblem(d.key, cfg.Abs(d.path))
		if p != "" {
			c.Problems = append(c.Problems, p)
		}
		if n != "" {
			c.Notes = append(c.Notes, n)
		}
	}
	for _, p := range checkCollect(cfg) {
		problem("%s", p)
	}
	if o.Connect && s.Host != "" && smtpOK {
		smtp, err := SMTPConfig(cfg)
		if err == nil {
			m := &reports.Mailer{SMTP: smtp}
			if err := m.Probe(ctx); err != nil {
				problem("reports.smtp.host %s: cannot connect: %v", s.Host, err)
			}
		}
	}
	return c
}

type folder struct{ key, path string }

// folders are the configured folders, by key.
func folders(cfg *config.Config) []folder {
	d := cfg.Dirs
	out := []folder{{"dirs.inbox", d.Inbox}, {"dirs.processing", d.Processing}, {"dirs.archive", d.Archive},
		{"dirs.rejected", d.Rejected}, {"dirs.reports", d.Reports}, {"dirs.outbox", d.Outbox}}
	if cfg.Preflight.ApprovalDir != "" {
		out = append(out, folder{"preflight.approval_dir", cfg.Preflight.ApprovalDir})
	}
	return out
}

// folderProblem checks one folder: it must be a writable directory, or be
// missing under a parent where it can be created (then a note says so).
func folderProblem(key, dir string) (problem, note string) {
	if dir == "" {
		return key + ": a folder is required", ""
	}
	st, err := os.Stat(dir)
	switch {
	case err == nil && !st.IsDir():
		return fmt.Sprintf("%s %s: not a folder", key, dir), ""
	case err == nil:
		if unix.Access(dir, unix.W_OK|unix.X_OK) != nil {
			return fmt.Sprintf("%s %s: not writable by this user", key, dir), ""
		}
		return "", ""
	case !errors.Is(err, os.ErrNotExist) && !errors.Is(err, unix.ENOTDIR):
		return fmt.Sprintf("%s %s: %v", key, dir, err), ""
	}
	// Missing: the nearest folder that exists must let start-up create it.
	parent := filepath.Dir(dir)
	for {
		st, err := os.Stat(parent)
		if err == nil {
			if !st.IsDir() {
				return fmt.Sprintf("%s %s: missing, and %s is not a folder", key, dir, parent), ""
			}
			if unix.Access(parent, unix.W_OK|unix.X_OK) != nil {
				return fmt.Sprintf("%s %s: missing, and cannot be created (%s is not writable by this user)", key, dir, parent), ""
			}
			return "", fmt.Sprintf("%s %s: missing; start-up creates it", key, dir)
		}
		next := filepath.Dir(parent)
		if next == parent {
			return fmt.Sprintf("%s %s: missing: %v", key, dir, err), ""
		}
		parent = next
	}
}
