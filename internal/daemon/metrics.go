package daemon

import (
	"context"
	"errors"
	"net/http"
	"runtime"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/payrun/payrun/providers"
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are payrun's Prometheus metrics. Its methods match the hooks of
// the services they observe, so that cmd wires them as method values.
type Metrics struct {
	reg          prometheus.Registerer
	requests     *prometheus.HistogramVec
	rateWaits    *prometheus.CounterVec
	rateWaitSecs *prometheus.CounterVec
	tooMany      *prometheus.CounterVec
	retries      *prometheus.CounterVec
	inDoubt      *prometheus.CounterVec
	webhooks     *prometheus.HistogramVec
	verifyFailed *prometheus.CounterVec
	intake       *prometheus.CounterVec
	waiting      prometheus.Gauge
	jobs         *prometheus.HistogramVec
	jobSuccess   *prometheus.GaugeVec
	buildInfo    *prometheus.GaugeVec
}

// NewMetrics creates the metrics and registers them on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		reg: reg,
		requests: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "payrun_provider_request_duration_seconds",
			Help:    "Provider API calls by provider, operation and result (ok or the error kind).",
			Buckets: []float64{.025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"provider", "op", "result"}),
		rateWaits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "payrun_rate_limit_waits_total",
			Help: "Times a request waited for its provider's rate limiter.",
		}, []string{"provider"}),
		rateWaitSecs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "payrun_rate_limit_wait_seconds_total",
			Help: "Time spent waiting for providers' rate limiters.",
		}, []string{"provider"}),
		tooMany: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "payrun_provider_rate_limited_total",
			Help: "Provider answers that refused for the rate limit (HTTP 429 and equivalents).",
		}, []string{"provider"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "payrun_retries_total",
			Help: "Requests sent again after a retryable error.",
		}, []string{"provider"}),
		inDoubt: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "payrun_in_doubt_resolutions_total",
			Help: "In-doubt payouts resolved, by how (query, webhook, resend, cancel) and the state they ended in.",
		}, []string{"provider", "how", "state"}),
		webhooks: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "payrun_webhook_duration_seconds",
			Help:    "Webhook requests by provider and HTTP status answered.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 5},
		}, []string{"provider", "code"}),
		verifyFailed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "payrun_webhook_verification_failed_total",
			Help: "Webhooks refused because their signature, nonce or timestamp did not verify.",
		}, []string{"provider"}),
		intake: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "payrun_intake_files_total",
			Help: "Payout files taken from the inbox, by outcome.",
		}, []string{"outcome"}),
		waiting: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "payrun_intake_files_waiting",
			Help: "Files in the inbox still being written (not stable yet, or without their ready marker).",
		}),
		jobs: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "payrun_job_duration_seconds",
			Help:    "Scheduled job runs by job and result.",
			Buckets: prometheus.ExponentialBuckets(0.01, 4, 10),
		}, []string{"job", "result"}),
		jobSuccess: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "payrun_job_last_success_timestamp_seconds",
			Help: "When each scheduled job last ran without an error (Unix time; 0: not since the daemon started).",
		}, []string{"job"}),
		buildInfo: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "payrun_build_info",
			Help: "Always 1; the labels say which payrun runs.",
		}, []string{"version", "revision", "goversion"}),
	}
	reg.MustRegister(m.requests, m.rateWaits, m.rateWaitSecs, m.tooMany, m.retries, m.inDoubt, m.webhooks,
		m.verifyFailed, m.intake, m.waiting, m.jobs, m.jobSuccess, m.buildInfo)
	version, revision := buildVersion()
	m.buildInfo.WithLabelValues(version, revision, runtime.Version()).Set(1)
	for _, o := range []string{string(Accepted), string(Rejected), string(Duplicate), "error", "archived"} {
		m.intake.WithLabelValues(o)
	}
	return m
}

// errorKind names an error by the provider taxonomy, for a label.
func errorKind(err error) string {
	kinds := []struct {
		err  error
		name string
	}{
		{providers.ErrRateLimited, "rate_limited"}, {providers.ErrUnavailable, "unavailable"},
		{providers.ErrRejected, "rejected"}, {providers.ErrInsufficientFunds, "insufficient_funds"},
		{providers.ErrNotFound, "not_found"}, {providers.ErrDuplicate, "duplicate"},
		{providers.ErrUnsupported, "unsupported"}, {providers.ErrInDoubt, "in_doubt"},
		{providers.ErrAuth, "auth"}, {context.Canceled, "cancelled"}, {context.DeadlineExceeded, "timeout"},
	}
	if err == nil {
		return "ok"
	}
	for _, k := range kinds {
		if errors.Is(err, k.err) {
			return k.name
		}
	}
	return "error"
}

// ObserveRequest records one provider call; it is the dispatcher's
// DispatchOptions.Observe hook. A rate-limit refusal also counts in
// payrun_provider_rate_limited_total.
func (m *Metrics) ObserveRequest(provider, op string, d time.Duration, err error) {
	kind := errorKind(err)
	m.requests.WithLabelValues(provider, op, kind).Observe(d.Seconds())
	if kind == "rate_limited" {
		m.tooMany.WithLabelValues(provider).Inc()
	}
}

// RateLimitWait records a wait for a provider's rate limiter.
func (m *Metrics) RateLimitWait(provider string, d time.Duration) {
	m.rateWaits.WithLabelValues(provider).Inc()
	m.rateWaitSecs.WithLabelValues(provider).Add(d.Seconds())
}

// Retry records a request sent again after a retryable error.
func (m *Metrics) Retry(provider string) { m.retries.WithLabelValues(provider).Inc() }

// InDoubtResolved records the resolution of an in-doubt payout: how
// (query, webhook, resend, cancel) and the state it ended in.
func (m *Metrics) InDoubtResolved(provider, how, state string) {
	m.inDoubt.WithLabelValues(provider, how, state).Inc()
}

// WebhookVerificationFailed records a webhook that did not verify.
func (m *Metrics) WebhookVerificationFailed(provider string) {
	m.verifyFailed.WithLabelValues(provider).Inc()
}

// ObserveWebhook records one webhook request; it is the receiver's
// ReceiverOptions.Observe hook. A 401 (the receiver's answer to a failed
// signature or a replay) counts as a failed verification.
func (m *Metrics) ObserveWebhook(provider string, status int, d time.Duration) {
	m.webhooks.WithLabelValues(provider, strconv.Itoa(status)).Observe(d.Seconds())
	if status == http.StatusUnauthorized {
		m.WebhookVerificationFailed(provider)
	}
}

// IntakeWaiting sets how many inbox files are still being written.
func (m *Metrics) IntakeWaiting(n int) { m.waiting.Set(float64(n)) }

// IntakeFile records an intake outcome; it is Intake.Observe.
func (m *Metrics) IntakeFile(outcome string) { m.intake.WithLabelValues(outcome).Inc() }

// ObserveJob records a scheduled run; it is SchedulerOptions.Observe.
func (m *Metrics) ObserveJob(job string, d time.Duration, err error) {
	result := "ok"
	if err != nil {
		result = "error"
	}
	m.jobs.WithLabelValues(job, result).Observe(d.Seconds())
	if err == nil {
		m.jobSuccess.WithLabelValues(job).SetToCurrentTime()
	}
}

// Jobs makes the per-job series exist from the start (last success 0), so
// that an alert on a job that never succeeds has something to read.
func (m *Metrics) Jobs(names ...string) {
	for _, n := range names {
		m.jobSuccess.WithLabelValues(n)
	}
}

// Providers makes the per-provider series exist from the start (at 0):
// payrun_webhook_verification_failed_total is read by alerts on its
// increase, which a series born at its first failure never shows.
func (m *Metrics) Providers(names ...string) {
	for _, n := range names {
		m.verifyFailed.WithLabelValues(n)
		m.tooMany.WithLabelValues(n)
		m.retries.WithLabelValues(n)
	}
}

// buildVersion is the main module's version and VCS revision, as the Go
// toolchain recorded them.
func buildVersion() (version, revision string) {
	version, revision = "unknown", "unknown"
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return
	}
	if bi.Main.Version != "" {
		version = bi.Main.Version
	}
	for _, st := range bi.Settings {
		if st.Key == "vcs.revision" {
			revision = st.Value
		}
	}
	return
}

// RegisterStatus registers a collector that reads src at every scrape:
// payrun_items{provider,state}, payrun_batches{state} and
// payrun_status_up (0 when src failed).
func (m *Metrics) RegisterStatus(src StatusSource) error {
	return m.reg.Register(NewStatusCollector(src))
}

// StatusCollector is a prometheus.Collector over a StatusSource.
type StatusCollector struct {
	src     StatusSource
	timeout time.Duration
	items   *prometheus.Desc
	batches *prometheus.Desc
	queued  *prometheus.Desc
	up      *prometheus.Desc
}

// NewStatusCollector returns the collector RegisterStatus registers.
func NewStatusCollector(src StatusSource) *StatusCollector {
	return &StatusCollector{
		src:     src,
		timeout: 10 * time.Second,
		items:   prometheus.NewDesc("payrun_items", "Items by provider and state.", []string{"provider", "state"}, nil),
		batches: prometheus.NewDesc("payrun_batches", "Batches by state.", []string{"state"}, nil),
		// Near zero, except for a second or so during a storm; a queue
		// that stays up means the Applier is failing (its errors are
		// logged).
		queued: prometheus.NewDesc("payrun_webhook_events_queued", "Webhook events acknowledged and not applied yet.", nil, nil),
		up:     prometheus.NewDesc("payrun_status_up", "1 when the journal could be read for this scrape.", nil, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *StatusCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.items
	ch <- c.batches
	ch <- c.queued
	ch <- c.up
}

// Collect implements prometheus.Collector.
func (c *StatusCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	counts, err := c.src.Counts(ctx)
	if err != nil {
		ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, 1)
	for _, ic := range counts.Items {
		ch <- prometheus.MustNewConstMetric(c.items, prometheus.GaugeValue, float64(ic.Count), ic.Provider, ic.State)
	}
	for state, n := range counts.Batches {
		ch <- prometheus.MustNewConstMetric(c.batches, prometheus.GaugeValue, float64(n), state)
	}
	ch <- prometheus.MustNewConstMetric(c.queued, prometheus.GaugeValue, float64(counts.Queued))
}
