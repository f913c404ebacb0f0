package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/mail"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
	"go.yaml.in/yaml/v3"

	"github.com/payrun/payrun/internal/pan"
	"github.com/payrun/payrun/money"
	"github.com/payrun/payrun/providers"
)

// Error lists every problem found in a configuration, each naming its key
// as the file writes it ("serve.cutoff", "reports.to[0]").
type Error struct {
	Path     string
	Problems []string
}

func (e *Error) Error() string {
	where := e.Path
	if where == "" {
		where = "configuration"
	}
	what := "1 problem"
	if len(e.Problems) != 1 {
		what = fmt.Sprintf("%d problems", len(e.Problems))
	}
	return fmt.Sprintf("%s: %s:\n  - %s", where, what, strings.Join(e.Problems, "\n  - "))
}

// Load reads a YAML file over the defaults and checks its values (see
// Read), failing with every problem at once.
func Load(path string) (*Config, error) {
	cfg, problems, err := Read(path)
	if err != nil {
		return nil, err
	}
	if len(problems) > 0 {
		return nil, &Error{Path: path, Problems: problems}
	}
	return cfg, nil
}

// Read reads a YAML file over the defaults and lists every problem of its
// values: a value of the wrong type does not hide the others (the rest of
// the file is still read and checked), and unknown keys are problems too
// (a typo must not silently disable a cap). The error is for a file that
// cannot be read as YAML at all; cfg is what could be read, for a caller
// that checks more (internal/app's Check) before it gives up.
func Read(path string) (cfg *Config, problems []string, err error) {
	cfg = Default()
	cfg.Dir = ""
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, &Error{Path: path, Problems: []string{err.Error()}}
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	err = dec.Decode(cfg)
	var te *yaml.TypeError
	switch {
	case err == nil, errors.Is(err, io.EOF):
	case errors.As(err, &te):
		// The decoder went on past each of these; what it could read is
		// in cfg and is checked below.
		keys := indexKeys(b)
		for _, msg := range te.Errors {
			problems = append(problems, keys.explain(msg))
		}
	default:
		// Not YAML at all: nothing else can be read.
		return nil, nil, &Error{Path: path, Problems: []string{strings.TrimPrefix(err.Error(), "yaml: ")}}
	}
	if cfg.Dir == "" {
		cfg.Dir = filepath.Dir(path)
	} else if !filepath.IsAbs(cfg.Dir) {
		cfg.Dir = filepath.Join(filepath.Dir(path), cfg.Dir)
	}
	cfg.Path = path
	return cfg, append(problems, cfg.Problems()...), nil
}

// Check validates the configuration and lists every problem.
func (c *Config) Check() error {
	if p := c.Problems(); len(p) > 0 {
		return &Error{Path: c.Path, Problems: p}
	}
	return nil
}

// Problems lists every problem of the configuration's values, each naming
// its key. It reads nothing but the configuration: secrets, folders and
// servers are the business of the caller that uses them (internal/app's
// check).
func (c *Config) Problems() []string {
	var p []string
	// A problem quotes the value it is about: a card number in one is
	// masked.
	add := func(format string, a ...any) { p = append(p, pan.MaskText(fmt.Sprintf(format, a...))) }
	loc, err := time.LoadLocation(c.TimeZone)
	if err != nil {
		add("timezone %q: %v", c.TimeZone, err)
		loc = time.UTC
	}
	if c.Journal == "" {
		add("journal: a path is required")
	}
	switch c.Input.OnInvalid {
	case "reject_file", "skip_rows":
	default:
		add("input.on_invalid %q: must be reject_file or skip_rows", c.Input.OnInvalid)
	}
	if c.Input.MaxBytes <= 0 {
		add("input.max_bytes %d: must be positive", c.Input.MaxBytes)
	}
	if c.Input.MaxRows <= 0 {
		add("input.max_rows %d: must be positive", c.Input.MaxRows)
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
		key := "providers." + n
		if pc.BaseURL == "" {
			add("%s.base_url: required", key)
		} else if err := CheckURL(pc.BaseURL); err != nil {
			add("%s.base_url %q: %v", key, pc.BaseURL, err)
		}
		if pc.CallbackURL != "" {
			if err := CheckURL(pc.CallbackURL); err != nil {
				add("%s.callback_url %q: %v", key, pc.CallbackURL, err)
			}
		}
		for _, f := range SecretFields(pc) {
			if f.Ref != "" && !providers.IsSecretRef(f.Ref) {
				add("%s.%s: %v (the value itself must not be in the config)", key, f.Key, providers.ErrLiteralSecret)
			}
		}
		for _, f := range []struct {
			key string
			v   float64
		}{{"rate_per_second", pc.RatePerSecond}, {"burst", float64(pc.Burst)}, {"concurrency", float64(pc.Concurrency)}} {
			if f.v < 0 {
				add("%s.%s %v: must not be negative", key, f.key, f.v)
			}
		}
		if pc.Timeout < 0 {
			add("%s.timeout %s: must not be negative", key, pc.Timeout)
		}
	}
	d := c.Dispatch
	if d.MaxAttempts < 1 {
		add("dispatch.max_attempts %d: must be at least 1 (one attempt is the request itself)", d.MaxAttempts)
	}
	if d.BreakerFailures < 0 {
		add("dispatch.breaker_failures %d: must not be negative", d.BreakerFailures)
	}
	for _, dur := range []struct {
		key string
		d   time.Duration
	}{{"dispatch.backoff_base", d.BackoffBase}, {"dispatch.backoff_max", d.BackoffMax}, {"dispatch.breaker_cooldown", d.BreakerCooldown},
		{"dispatch.resend_after", d.ResendAfter}, {"reconcile.poll_after", c.Reconcile.PollAfter},
		{"reconcile.poll_interval", c.Reconcile.PollInterval}, {"reconcile.poll_max", c.Reconcile.PollMax},
		{"reconcile.sla", c.Reconcile.SLA}, {"reconcile.link_deadline", c.Reconcile.LinkDeadline},
		{"serve.stable_for", c.Serve.StableFor}, {"serve.scan_interval", c.Serve.ScanInterval}} {
		if dur.d < 0 {
			add("%s %s: must not be negative", dur.key, dur.d)
		}
	}
	if d.BackoffMax > 0 && d.BackoffBase > d.BackoffMax {
		add("dispatch.backoff_base %s: longer than dispatch.backoff_max %s", d.BackoffBase, d.BackoffMax)
	}
	for i, cp := range d.Caps {
		key := fmt.Sprintf("dispatch.caps[%d]", i)
		if cp.Scope != "day" && cp.Scope != "batch" {
			add("%s.scope %q: must be day or batch", key, cp.Scope)
		}
		if cp.MaxCount < 0 {
			add("%s.max_count %d: must not be negative", key, cp.MaxCount)
		}
		for _, cur := range sortedKeys(cp.MaxAmount) {
			amt := cp.MaxAmount[cur]
			if m, err := money.Parse(amt, cur); err != nil {
				add("%s.max_amount.%s %q: %v", key, cur, amt, err)
			} else if m.Minor < 0 {
				add("%s.max_amount.%s %q: must not be negative", key, cur, amt)
			}
		}
	}
	for _, cur := range sortedKeys(c.Preflight.HoldAbove) {
		amt := c.Preflight.HoldAbove[cur]
		if m, err := money.Parse(amt, cur); err != nil {
			add("preflight.hold_above.%s %q: %v", cur, amt, err)
		} else if m.Minor < 0 {
			add("preflight.hold_above.%s %q: must not be negative", cur, amt)
		}
	}
	if c.Preflight.DuplicateLookback < 0 {
		add("preflight.duplicate_lookback_days %d: must not be negative", c.Preflight.DuplicateLookback)
	}
	if c.Reconcile.MaxWebhookBytes <= 0 || c.Reconcile.MaxWebhookBytes > MaxWebhookBytesLimit {
		add("reconcile.max_webhook_bytes %d: must be positive and at most %d (8 MiB): a provider's notification is a few KB, and each one is kept whole before it is acknowledged",
			c.Reconcile.MaxWebhookBytes, MaxWebhookBytesLimit)
	}
	r := c.Reports
	if err := CheckEmail(r.From); err != nil {
		add("reports.from %q: %v", r.From, err)
	}
	for i, a := range r.To {
		if err := CheckEmail(a); err != nil {
			add("reports.to[%d] %q: %v", i, a, err)
		}
	}
	for i, a := range r.Operators {
		if err := CheckEmail(a); err != nil {
			add("reports.operators[%d] %q: %v", i, a, err)
		}
	}
	if r.SMTP.Password != "" && !providers.IsSecretRef(r.SMTP.Password) {
		add("reports.smtp.password: %v", providers.ErrLiteralSecret)
	}
	switch r.SMTP.TLS {
	case "starttls", "implicit", "none":
	default:
		add("reports.smtp.tls %q: must be starttls, implicit or none", r.SMTP.TLS)
	}
	if r.SMTP.Host != "" && (r.SMTP.Port < 0 || r.SMTP.Port > 65535) {
		add("reports.smtp.port %d: must be a port number (1-65535; 0: 587, or 465 with tls implicit)", r.SMTP.Port)
	}
	if r.SMTP.Host != "" && r.SMTP.TLS == "none" && !isLoopback(r.SMTP.Host) {
		add("reports.smtp.tls none: allowed only for a loopback host, not %s", r.SMTP.Host)
	}
	// Text that payrun writes into every email (subjects, the payer's
	// name, addresses): a card number in it would be in each of them.
	texts := [][2]string{{"reports.subject_prefix", r.SubjectPrefix}, {"reports.payer", r.Payer},
		{"reports.beneficiary_subject", r.BeneficiarySubject}, {"reports.from", r.From}}
	for i, a := range r.To {
		texts = append(texts, [2]string{fmt.Sprintf("reports.to[%d]", i), a})
	}
	for i, a := range r.Operators {
		texts = append(texts, [2]string{fmt.Sprintf("reports.operators[%d]", i), a})
	}
	for _, t := range texts {
		if pan.Contains(t[1]) {
			add("%s: holds a card number; remove it (it would be written into every email)", t[0])
		}
	}
	if r.BeneficiaryReminder < 0 {
		add("reports.beneficiary_reminder %s: must not be negative (0: no reminder)", r.BeneficiaryReminder)
	}
	if r.BeneficiaryEmail && c.Serve.PublicURL == "" {
		add("reports.beneficiary_email: needs serve.public_url, the address beneficiaries open their links at")
	}
	s := c.Serve
	if err := CheckListen(s.Listen); err != nil {
		add("serve.listen %q: %v", s.Listen, err)
	}
	if s.PublicURL != "" {
		if err := CheckURL(s.PublicURL); err != nil {
			add("serve.public_url %q: %v", s.PublicURL, err)
		}
	}
	for _, sc := range []struct{ key, spec string }{{"serve.cutoff", s.Cutoff}, {"serve.poll", s.Poll}, {"serve.report", s.Report}} {
		if sc.spec == "" {
			continue
		}
		if _, err := ParseCron(sc.spec, loc); err != nil {
			add("%s %q: %v", sc.key, sc.spec, err)
		}
	}
	switch strings.ToLower(c.Log.Level) {
	case "", "debug", "info", "warn", "error":
	default:
		add("log.level %q: must be debug, info, warn or error", c.Log.Level)
	}
	switch c.Log.Format {
	case "", "auto", "json", "text":
	default:
		add("log.format %q: must be auto, json or text", c.Log.Format)
	}
	return append(p, c.Cluster.problems()...)
}

// ParseCron parses a schedule as the daemon does: a standard cron spec
// (five fields: minute hour day-of-month month day-of-week; or a
// descriptor such as @daily or @every 10s) in the zone loc, unless the
// spec names its own with a CRON_TZ= or TZ= prefix.
func ParseCron(spec string, loc *time.Location) (cron.Schedule, error) {
	if loc == nil {
		loc = time.UTC
	}
	s, err := cron.ParseStandard(spec)
	if err != nil {
		return nil, err
	}
	trimmed := strings.TrimSpace(spec)
	if ss, ok := s.(*cron.SpecSchedule); ok && !strings.HasPrefix(trimmed, "CRON_TZ=") && !strings.HasPrefix(trimmed, "TZ=") {
		ss.Location = loc
	}
	return s, nil
}

// CheckURL says what is wrong with a URL payrun calls or gives out: it
// must be absolute, http or https, with a host.
func CheckURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return errors.New("not a URL")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("want an http:// or https:// URL, not scheme %q", u.Scheme)
	}
	if u.Host == "" || u.Hostname() == "" {
		return errors.New("the URL has no host")
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("port %q is not a port number", p)
		}
	}
	return nil
}

// CheckEmail says what is wrong with an email address (one address, as
// net/mail reads it: "name@example.com" or "Name <name@example.com>").
func CheckEmail(s string) error {
	a, err := mail.ParseAddress(s)
	if err != nil {
		return errors.New("not an email address")
	}
	if _, domain, _ := strings.Cut(a.Address, "@"); domain == "" {
		return errors.New("not an email address")
	}
	return nil
}

// CheckListen says what is wrong with an address to listen on: host:port
// (the host may be empty: every interface; port 0 lets the system choose).
func CheckListen(s string) error {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return errors.New("want host:port, e.g. 127.0.0.1:8080 (a port alone is written :8080)")
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("port %q is not a port number", port)
	}
	if host != "" && host != "localhost" && net.ParseIP(host) == nil && strings.ContainsAny(host, " /") {
		return fmt.Errorf("host %q is not a host name or an IP address", host)
	}
	return nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// SecretField is one secret reference of a provider's configuration.
type SecretField struct {
	Key string // as written under providers.<name>: "api_key", "extra.payin_key"
	Ref string
}

// SecretFields lists a provider's secret fields, in the file's order, and
// every extra value written as a reference.
func SecretFields(pc providers.Config) []SecretField {
	out := []SecretField{{"api_key", pc.APIKey}, {"api_secret", pc.APISecret}, {"private_key", pc.PrivateKey},
		{"provider_public_key", pc.ProviderPublicKey}}
	for _, k := range sortedKeys(pc.Extra) {
		if v := pc.Extra[k]; providers.IsSecretRef(v) {
			out = append(out, SecretField{"extra." + k, v})
		}
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
