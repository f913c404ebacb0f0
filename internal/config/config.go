package config

import (
	"path/filepath"
	"time"

	"github.com/payrun/payrun/providers"
)

// Config is payrun's configuration. config.example.yaml documents every key.
// MaxWebhookBytesLimit is the largest reconcile.max_webhook_bytes: a
// journal keeps a body whole in one record.
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
	// Payer is the name beneficiaries see on the card collection page and
	// in their emails (the company paying them).
	Payer string `yaml:"payer"`
	// BeneficiaryEmail emails every waiting link (a card collection page,
	// a Monnet card push iframe, a payment link) to its row's email, once
	// per link, and once more BeneficiaryReminder before it expires.
	BeneficiaryEmail bool `yaml:"beneficiary_email"`
	// BeneficiaryTemplate is a text/template file for that email's body
	// ("" uses the built-in one); BeneficiarySubject a template for its
	// subject line.
	BeneficiaryTemplate string        `yaml:"beneficiary_template"`
	BeneficiarySubject  string        `yaml:"beneficiary_subject"`
	BeneficiaryReminder time.Duration `yaml:"beneficiary_reminder"`
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
	// RequireDistinctApprover refuses an approval by whoever dropped the
	// file (maker-checker).
	RequireDistinctApprover bool `yaml:"require_distinct_approver"`
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
	// LinkKey is the file of the key that signs beneficiary links (card
	// collection pages); "" keeps it beside the journal file (or in dir
	// for a PostgreSQL journal). Created with mode 0600 on first use.
	LinkKey string `yaml:"link_key"`
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
		Reports: Reports{Mask: true, AttachAnnotated: true, From: "payrun@localhost", SubjectPrefix: "[payrun]", SMTP: SMTP{Port: 587, TLS: "starttls"},
			BeneficiaryReminder: 6 * time.Hour},
		Preflight: Preflight{DuplicateLookback: 7},
		Serve: Serve{Listen: "127.0.0.1:8080", StableFor: 5 * time.Second, ScanInterval: 30 * time.Second,
			Cutoff: "0 18 * * *", Poll: "*/5 * * * *", Report: "0 7 * * *", CatchUp: true},
		Cluster: Cluster{Lease: DefaultLease},
		Log:     Log{Level: "info", Format: "auto"},
	}
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
