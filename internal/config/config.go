package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/payrun/payrun/money"
	"github.com/payrun/payrun/providers"
	"go.yaml.in/yaml/v3"
)

// Config is payrun's configuration. config.example.yaml documents every key.
// MaxWebhookBytesLimit is the largest reconcile.max_webhook_bytes: the
// journal's intake log keeps a body whole in one record of at most 16 MiB.
const MaxWebhookBytesLimit = 8 << 20

type Config struct {
	// Dir is the working directory; relative paths below are under it.
	Dir      string `yaml:"dir"`
	TimeZone string `yaml:"timezone"`
	Journal  string `yaml:"journal"`

	Dirs      Dirs                        `yaml:"dirs"`
	Input     Input                       `yaml:"input"`
	Providers map[string]providers.Config `yaml:"providers"`
	Dispatch  Dispatch                    `yaml:"dispatch"`
	Reconcile Reconcile                   `yaml:"reconcile"`
	Reports   Reports                     `yaml:"reports"`
	Preflight Preflight                   `yaml:"preflight"`
	Serve     Serve                       `yaml:"serve"`
	Cluster   Cluster                     `yaml:"cluster"`
	Log       Log                         `yaml:"log"`

	// Path is the file the config was loaded from ("" for defaults).
	Path string `yaml:"-"`
}

// Dirs are the folders of the file intake and the outputs.
type Dirs struct {
	Inbox      string `yaml:"inbox"`
	Processing string `yaml:"processing"`
	Archive    string `yaml:"archive"`
	Rejected   string `yaml:"rejected"`
	Reports    string `yaml:"reports"`
	Outbox     string `yaml:"outbox"`
}

// Input configures reading and validating payout files.
type Input struct {
	// Sheet is the XLSX sheet to read ("" = the first).
	Sheet string `yaml:"sheet"`
	// Aliases maps a canonical column to the header names a team uses.
	Aliases map[string][]string `yaml:"aliases"`
	// MaxBytes and MaxRows cap one file.
	MaxBytes int64 `yaml:"max_bytes"`
	MaxRows  int   `yaml:"max_rows"`
	// OnInvalid is reject_file (default) or skip_rows.
	OnInvalid string `yaml:"on_invalid"`
}

// Dispatch configures the worker pools.
type Dispatch struct {
	MaxAttempts     int           `yaml:"max_attempts"`
	BackoffBase     time.Duration `yaml:"backoff_base"`
	BackoffMax      time.Duration `yaml:"backoff_max"`
	BreakerFailures int           `yaml:"breaker_failures"`
	BreakerCooldown time.Duration `yaml:"breaker_cooldown"`
	// ResendAfter is how long an in-doubt Monnet payout waits before the
	// resend that proves it exists (Monnet asks for 30 s).
	ResendAfter time.Duration `yaml:"resend_after"`
	Caps        []Cap         `yaml:"caps"`
}

// Cap limits what one provider (or any, when Provider is empty) may pay in
// one day or one batch. Amounts are decimal strings per currency.
type Cap struct {
	Provider  string            `yaml:"provider"`
	Scope     string            `yaml:"scope"` // day or batch
	MaxCount  int               `yaml:"max_count"`
	MaxAmount map[string]string `yaml:"max_amount"`
}

// Reconcile configures the poller and the ageing.
type Reconcile struct {
	PollAfter    time.Duration `yaml:"poll_after"`
	PollInterval time.Duration `yaml:"poll_interval"`
	PollMax      time.Duration `yaml:"poll_max"`
	SLA          time.Duration `yaml:"sla"`
	// LinkDeadline bounds how long a card push or payment link waits for
	// its beneficiary (0: the provider's link lifetime plus 30 minutes).
	LinkDeadline time.Duration `yaml:"link_deadline"`
	// MaxWebhookBytes caps a webhook body (413 beyond); at most
	// MaxWebhookBytesLimit.
	MaxWebhookBytes int64 `yaml:"max_webhook_bytes"`
}

// Reports configures the workbook and its email.
type Reports struct {
	Mask            bool     `yaml:"mask"`
	AttachAnnotated bool     `yaml:"attach_annotated"`
	From            string   `yaml:"from"`
	To              []string `yaml:"to"`
	Operators       []string `yaml:"operators"`
	SubjectPrefix   string   `yaml:"subject_prefix"`
	SMTP            SMTP     `yaml:"smtp"`
}

// SMTP is the mail server; without Host, messages go to the outbox as .eml.
type SMTP struct {
	Host     string `yaml:"host"`
	Port     int    `yaml:"port"`
	Username string `yaml:"username"`
	Password string `yaml:"password"` // a secret reference
	// TLS is starttls (default), implicit or none (loopback only).
	TLS string `yaml:"tls"`
}

// Preflight configures the message before money moves and the approval hold.
type Preflight struct {
	Enabled bool `yaml:"enabled"`
	// HoldAbove holds a batch whose total in a currency exceeds the amount
	// until `payrun approve`.
	HoldAbove map[string]string `yaml:"hold_above"`
	// ApprovalDir: dropping BATCH.approved there approves a held batch.
	ApprovalDir       string `yaml:"approval_dir"`
	DuplicateLookback int    `yaml:"duplicate_lookback_days"`
}

// Serve configures the daemon.
type Serve struct {
	Listen string `yaml:"listen"`
	// PublicURL is how providers reach the webhooks (callback URLs).
	PublicURL    string        `yaml:"public_url"`
	StableFor    time.Duration `yaml:"stable_for"`
	ReadyMarker  bool          `yaml:"ready_marker"`
	ScanInterval time.Duration `yaml:"scan_interval"`
	// Cron schedules, in TimeZone.
	Cutoff         string `yaml:"cutoff"`
	Poll           string `yaml:"poll"`
	Report         string `yaml:"report"`
	DispatchAtOnce bool   `yaml:"dispatch_at_once"`
	CatchUp        bool   `yaml:"catch_up"`
}

// Log configures logging.
type Log struct {
	Level  string `yaml:"level"`
	Format string `yaml:"format"` // auto, json, text
}

// Default returns the built-in configuration: everything under dir, no
// providers enabled.
func Default() *Config {
	return &Config{
		Dir:      ".",
		TimeZone: "America/Lima",
		Journal:  "payrun.db",
		Dirs: Dirs{Inbox: "inbox", Processing: "processing", Archive: "archive", Rejected: "rejected",
			Reports: "reports", Outbox: "outbox"},
		Input:     Input{MaxBytes: 512 << 20, MaxRows: 2_000_000, OnInvalid: "reject_file"},
		Providers: map[string]providers.Config{},
		Dispatch: Dispatch{MaxAttempts: 8, BackoffBase: 200 * time.Millisecond, BackoffMax: 30 * time.Second,
			BreakerFailures: 10, BreakerCooldown: 30 * time.Second, ResendAfter: 30 * time.Second},
		Reconcile: Reconcile{PollAfter: 2 * time.Minute, PollInterval: time.Minute, PollMax: time.Hour,
			SLA: 48 * time.Hour, MaxWebhookBytes: 256 << 10},
		Reports:   Reports{Mask: true, AttachAnnotated: true, From: "payrun@localhost", SubjectPrefix: "[payrun]", SMTP: SMTP{Port: 587, TLS: "starttls"}},
		Preflight: Preflight{DuplicateLookback: 7},
		Serve: Serve{Listen: "127.0.0.1:8080", StableFor: 5 * time.Second, ScanInterval: 30 * time.Second,
			Cutoff: "0 18 * * *", Poll: "*/5 * * * *", Report: "0 7 * * *", CatchUp: true},
		Cluster: Cluster{Lease: DefaultLease},
		Log:     Log{Level: "info", Format: "auto"},
	}
}

// Error lists every problem found in a configuration.
type Error struct {
	Path     string
	Problems []string
}

func (e *Error) Error() string {
	where := e.Path
	if where == "" {
		where = "configuration"
	}
	return fmt.Sprintf("%s: %d problem(s):\n  - %s", where, len(e.Problems), strings.Join(e.Problems, "\n  - "))
}

// Load reads a YAML file over the defaults and checks it. Unknown keys are
// errors (a typo must not silently disable a cap).
func Load(path string) (*Config, error) {
	cfg := Default()
	cfg.Dir = ""
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, &Error{Path: path, Problems: []string{err.Error()}}
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(cfg); err != nil && !errors.Is(err, io.EOF) {
		return nil, &Error{Path: path, Problems: []string{err.Error()}}
	}
	if cfg.Dir == "" {
		cfg.Dir = filepath.Dir(path)
	} else if !filepath.IsAbs(cfg.Dir) {
		cfg.Dir = filepath.Join(filepath.Dir(path), cfg.Dir)
	}
	cfg.Path = path
	if err := cfg.Check(); err != nil {
		return nil, err
	}
	return cfg, nil
}

// Check validates the configuration and lists every problem.
func (c *Config) Check() error {
	var p []string
	if _, err := time.LoadLocation(c.TimeZone); err != nil {
		p = append(p, fmt.Sprintf("timezone %q: %v", c.TimeZone, err))
	}
	if c.Journal == "" {
		p = append(p, "journal: a path is required")
	}
	switch c.Input.OnInvalid {
	case "reject_file", "skip_rows":
	default:
		p = append(p, fmt.Sprintf("input.on_invalid %q: must be reject_file or skip_rows", c.Input.OnInvalid))
	}
	if c.Input.MaxBytes <= 0 || c.Input.MaxRows <= 0 {
		p = append(p, "input.max_bytes and input.max_rows must be positive")
	}
	names := make([]string, 0, len(c.Providers))
	for n := range c.Providers {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		pc := c.Providers[n]
		if !pc.Enabled {
			continue
		}
		if pc.BaseURL == "" {
			p = append(p, fmt.Sprintf("providers.%s.base_url: required", n))
		}
		for field, v := range map[string]string{"api_key": pc.APIKey, "api_secret": pc.APISecret,
			"private_key": pc.PrivateKey, "provider_public_key": pc.ProviderPublicKey} {
			if v != "" && !providers.IsSecretRef(v) {
				p = append(p, fmt.Sprintf("providers.%s.%s: %v (the value itself must not be in the config)", n, field, providers.ErrLiteralSecret))
			}
		}
		if pc.RatePerSecond < 0 || pc.Burst < 0 || pc.Concurrency < 0 {
			p = append(p, fmt.Sprintf("providers.%s: rate_per_second, burst and concurrency must not be negative", n))
		}
	}
	for i, cp := range c.Dispatch.Caps {
		if cp.Scope != "day" && cp.Scope != "batch" {
			p = append(p, fmt.Sprintf("dispatch.caps[%d].scope %q: must be day or batch", i, cp.Scope))
		}
		for cur, amt := range cp.MaxAmount {
			if _, err := money.Parse(amt, cur); err != nil {
				p = append(p, fmt.Sprintf("dispatch.caps[%d].max_amount.%s %q: %v", i, cur, amt, err))
			}
		}
	}
	for cur, amt := range c.Preflight.HoldAbove {
		if _, err := money.Parse(amt, cur); err != nil {
			p = append(p, fmt.Sprintf("preflight.hold_above.%s %q: %v", cur, amt, err))
		}
	}
	if c.Reports.SMTP.Password != "" && !providers.IsSecretRef(c.Reports.SMTP.Password) {
		p = append(p, "reports.smtp.password: "+providers.ErrLiteralSecret.Error())
	}
	switch c.Reports.SMTP.TLS {
	case "starttls", "implicit", "none":
	default:
		p = append(p, fmt.Sprintf("reports.smtp.tls %q: must be starttls, implicit or none", c.Reports.SMTP.TLS))
	}
	if c.Reconcile.MaxWebhookBytes <= 0 || c.Reconcile.MaxWebhookBytes > MaxWebhookBytesLimit {
		p = append(p, fmt.Sprintf("reconcile.max_webhook_bytes must be positive and at most %d (8 MiB): a provider's notification is a few KB, and each one is kept whole before it is acknowledged", MaxWebhookBytesLimit))
	}
	p = append(p, c.Cluster.problems()...)
	if len(p) > 0 {
		return &Error{Path: c.Path, Problems: p}
	}
	return nil
}

// Abs resolves a path from the config against Dir.
func (c *Config) Abs(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(c.Dir, p)
}

// Location returns the configured time zone.
func (c *Config) Location() *time.Location {
	loc, err := time.LoadLocation(c.TimeZone)
	if err != nil {
		return time.UTC
	}
	return loc
}
