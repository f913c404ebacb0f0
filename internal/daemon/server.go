package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Check is one readiness condition of /readyz.
type Check struct {
	Name string
	Func func(ctx context.Context) error
}

// ServerOptions configure NewServer. Every field is optional: a route
// whose collaborator is missing answers 404 (or, for /readyz without
// checks, ok).
type ServerOptions struct {
	// Webhooks serves /webhooks/ (reconcile.Receiver).
	Webhooks http.Handler
	// Ready are the checks of /readyz (JournalStatus.Check,
	// Scheduler.Check).
	Ready []Check
	// Gatherer is what /metrics exposes (a *prometheus.Registry).
	Gatherer prometheus.Gatherer
	// Status feeds /api/batches and the status page.
	Status StatusSource
	// Cluster, on a shared journal, feeds /api/cluster and the status
	// page's cluster section.
	Cluster ClusterSource
	// Refresh is the status page's auto-refresh period (default 5 s).
	Refresh time.Duration
	// PageBatches caps the batches on the page and in /api/batches
	// (default 50; ?limit= overrides it in the API).
	PageBatches int
	// PageOpenItems caps the open items shown per batch (default 20).
	PageOpenItems int
	// Now is the clock printed on the page (nil: time.Now).
	Now func() time.Time
	// Location is the zone times are shown in on the page (nil: UTC).
	Location *time.Location
	// Command is how the page names payrun in the commands it shows
	// (default "payrun"; the daemon adds its --config).
	Command string
	Log     *slog.Logger
}

// NewServer returns the daemon's HTTP handler:
//
//	/webhooks/...          delegated to o.Webhooks
//	GET /healthz           200 while the process is up
//	GET /readyz            200 when every check passes, else 503 naming the failing ones
//	GET /metrics           Prometheus exposition of o.Gatherer
//	GET /api/batches       JSON: newest batches first with progress per provider
//	GET /api/batches/{id}  JSON: one batch and its open items
//	GET /                  the HTML status page
func NewServer(o ServerOptions) http.Handler {
	if o.Refresh <= 0 {
		o.Refresh = 5 * time.Second
	}
	if o.PageBatches <= 0 {
		o.PageBatches = 50
	}
	if o.PageOpenItems <= 0 {
		o.PageOpenItems = 20
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Location == nil {
		o.Location = time.UTC
	}
	if o.Command == "" {
		o.Command = "payrun"
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	s := &server{o: o}
	mux := http.NewServeMux()
	if o.Webhooks != nil {
		mux.Handle("/webhooks/{provider}", o.Webhooks)
		mux.Handle("/webhooks/", o.Webhooks)
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { text(w, http.StatusOK, "ok\n") })
	mux.HandleFunc("GET /readyz", s.ready)
	if o.Gatherer != nil {
		mux.Handle("GET /metrics", promhttp.HandlerFor(o.Gatherer, promhttp.HandlerOpts{ErrorLog: slogPrinter{o.Log}}))
	}
	if o.Status != nil {
		mux.HandleFunc("GET /api/batches", s.batches)
		mux.HandleFunc("GET /api/batches/{id}", s.batch)
		mux.HandleFunc("GET /{$}", s.page)
	}
	if o.Cluster != nil {
		mux.HandleFunc("GET /api/cluster", s.cluster)
	}
	return mux
}

type server struct {
	o ServerOptions
}

func text(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(msg))
}

func (s *server) ready(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	var failed string
	for _, c := range s.o.Ready {
		if err := c.Func(ctx); err != nil {
			failed += c.Name + ": " + err.Error() + "\n"
		}
	}
	if failed != "" {
		text(w, http.StatusServiceUnavailable, failed)
		return
	}
	text(w, http.StatusOK, "ok\n")
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

type apiError struct {
	Error string `json:"error"`
}

func (s *server) fail(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, ErrNotFound) {
		writeJSON(w, http.StatusNotFound, apiError{Error: "not found"})
		return
	}
	s.o.Log.Error("status api", "path", r.URL.Path, "err", err)
	writeJSON(w, http.StatusInternalServerError, apiError{Error: "the journal could not be read; see the daemon's log"})
}

// BatchList is the answer of /api/batches.
type BatchList struct {
	Batches []BatchStatus `json:"batches"`
}

// BatchDetail is the answer of /api/batches/{id}.
type BatchDetail struct {
	Batch     BatchStatus `json:"batch"`
	OpenItems []OpenItem  `json:"open_items"`
}

func (s *server) batches(w http.ResponseWriter, r *http.Request) {
	limit := s.o.PageBatches
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			writeJSON(w, http.StatusBadRequest, apiError{Error: "limit must be a number >= 0"})
			return
		}
		limit = n
	}
	bs, err := s.o.Status.Batches(r.Context(), limit)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if bs == nil {
		bs = []BatchStatus{}
	}
	writeJSON(w, http.StatusOK, BatchList{Batches: bs})
}

func (s *server) batch(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	b, err := s.o.Status.Batch(r.Context(), id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	open, err := s.o.Status.OpenItems(r.Context(), id, 0)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if open == nil {
		open = []OpenItem{}
	}
	writeJSON(w, http.StatusOK, BatchDetail{Batch: b, OpenItems: open})
}

// slogPrinter lets promhttp log through slog.
type slogPrinter struct{ log *slog.Logger }

func (p slogPrinter) Println(v ...any) {
	p.log.Error("metrics", "err", v)
}
