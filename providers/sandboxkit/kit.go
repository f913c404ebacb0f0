package sandboxkit

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Options configure a Kit.
type Options struct {
	Name string
	// Seed makes probabilistic faults repeatable (0 picks 1).
	Seed uint64
	// HTTP delivers webhooks (nil: a client with a 5 s timeout).
	HTTP *http.Client
}

// Kit is the shared state of one sandbox instance.
type Kit struct {
	Name   string
	Clock  *Clock
	Ledger *Ledger

	mu     sync.Mutex
	faults Faults
	rng    *rand.Rand
	// counters for "every Nth" faults and the rate window
	apiCalls    int
	windowStart time.Time
	windowCount int
	burstLeft   int

	Notifier *Notifier
}

// New returns a Kit with no faults on.
func New(o Options) *Kit {
	seed := o.Seed
	if seed == 0 {
		seed = 1
	}
	k := &Kit{Name: o.Name, Clock: NewClock(), Ledger: NewLedger(), rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
	hc := o.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 5 * time.Second}
	}
	k.Notifier = newNotifier(k, hc)
	return k
}

// Close stops webhook deliveries and scheduled work.
func (k *Kit) Close() {
	k.Notifier.close()
	k.Clock.close()
}

// SetFaults replaces the fault knobs.
func (k *Kit) SetFaults(f Faults) {
	k.mu.Lock()
	k.faults = f
	k.burstLeft = f.Burst5xx
	k.mu.Unlock()
}

// Faults returns the fault knobs in force.
func (k *Kit) Faults() Faults {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.faults
}

// Chance returns true with probability p, from the kit's seeded source.
func (k *Kit) Chance(p float64) bool {
	if p <= 0 {
		return false
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.rng.Float64() < p
}

// Intn returns a seeded random int in [0, n).
func (k *Kit) Intn(n int) int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.rng.IntN(n)
}

// transportFault decides, for one API request, which transport fault applies.
type transportFault int

const (
	faultNone transportFault = iota
	faultRateLimited
	fault5xx
	faultDropResponse
)

func (k *Kit) decide() (transportFault, time.Duration, time.Duration) {
	k.mu.Lock()
	defer k.mu.Unlock()
	f := k.faults
	k.apiCalls++
	if f.RateLimitPerSecond > 0 {
		now := time.Now()
		if now.Sub(k.windowStart) >= time.Second {
			k.windowStart = now.Truncate(time.Second)
			k.windowCount = 0
		}
		if k.windowCount >= f.RateLimitPerSecond {
			ra := time.Second - now.Sub(k.windowStart)
			return faultRateLimited, f.Latency, ra
		}
		k.windowCount++
	}
	if k.burstLeft > 0 {
		k.burstLeft--
		return fault5xx, f.Latency, 0
	}
	if f.Error5xxRate > 0 && k.rng.Float64() < f.Error5xxRate {
		return fault5xx, f.Latency, 0
	}
	if f.DropResponseEvery > 0 && k.apiCalls%f.DropResponseEvery == 0 {
		return faultDropResponse, f.Latency, 0
	}
	if f.DropResponseRate > 0 && k.rng.Float64() < f.DropResponseRate {
		return faultDropResponse, f.Latency, 0
	}
	return faultNone, f.Latency, 0
}

// RateLimitedWriter writes a sandbox's own 429 answer. Sandboxes set it to
// answer in their provider's shape; the default is a bare 429 with
// Retry-After in whole seconds (rounded up).
type RateLimitedWriter func(w http.ResponseWriter, retryAfter time.Duration)

// UnavailableWriter writes a sandbox's own 5xx answer.
type UnavailableWriter func(w http.ResponseWriter)

// Wrap applies the transport faults to every request outside /_sandbox/:
// latency, 429 above the configured rate, 5xx bursts and rates, and
// responses dropped after the handler ran (the payout exists, the client
// sees a broken connection).
func (k *Kit) Wrap(h http.Handler, on429 RateLimitedWriter, on5xx UnavailableWriter) http.Handler {
	if on429 == nil {
		on429 = func(w http.ResponseWriter, ra time.Duration) {
			secs := int((ra + time.Second - 1) / time.Second)
			if secs < 1 {
				secs = 1
			}
			w.Header().Set("Retry-After", strconv.Itoa(secs))
			http.Error(w, "too many requests", http.StatusTooManyRequests)
		}
	}
	if on5xx == nil {
		on5xx = func(w http.ResponseWriter) {
			http.Error(w, "service unavailable", http.StatusServiceUnavailable)
		}
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/_sandbox/") {
			h.ServeHTTP(w, r)
			return
		}
		fault, latency, ra := k.decide()
		if latency > 0 {
			select {
			case <-time.After(latency):
			case <-r.Context().Done():
				return
			}
		}
		switch fault {
		case faultRateLimited:
			on429(w, ra)
			return
		case fault5xx:
			on5xx(w)
			return
		case faultDropResponse:
			rec := &bufferedWriter{header: http.Header{}}
			h.ServeHTTP(rec, r)
			DropConnection(w)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// DropConnection closes the client's connection without an answer: a
// request processed whose response is lost.
func DropConnection(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler)
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	_ = conn.Close()
}

type bufferedWriter struct {
	header http.Header
	body   bytes.Buffer
	code   int
}

func (b *bufferedWriter) Header() http.Header         { return b.header }
func (b *bufferedWriter) Write(p []byte) (int, error) { return b.body.Write(p) }
func (b *bufferedWriter) WriteHeader(code int)        { b.code = code }

// APICalls is how many API requests (outside /_sandbox/) reached the
// sandbox.
func (k *Kit) APICalls() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.apiCalls
}

// AdminHandler serves the sandbox-only endpoints:
//
//	GET  /_sandbox/ledger   the ledger as JSON
//	GET  /_sandbox/faults   the fault knobs in force
//	POST /_sandbox/faults   replace the fault knobs (JSON Faults)
//	POST /_sandbox/advance?d=30m   move the sandbox clock forward
func (k *Kit) AdminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /_sandbox/ledger", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, k.Ledger.Entries())
	})
	mux.HandleFunc("GET /_sandbox/faults", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, k.Faults())
	})
	mux.HandleFunc("POST /_sandbox/faults", func(w http.ResponseWriter, r *http.Request) {
		var f Faults
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&f); err != nil {
			http.Error(w, "faults: "+err.Error(), http.StatusBadRequest)
			return
		}
		k.SetFaults(f)
		writeJSON(w, f)
	})
	mux.HandleFunc("POST /_sandbox/advance", func(w http.ResponseWriter, r *http.Request) {
		d, err := time.ParseDuration(r.URL.Query().Get("d"))
		if err != nil || d < 0 {
			http.Error(w, "advance: d must be a positive duration like 30m", http.StatusBadRequest)
			return
		}
		k.Clock.Advance(d)
		writeJSON(w, map[string]string{"now": k.Clock.Now().Format(time.RFC3339Nano)})
	})
	return mux
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// Digits reports whether s is one or more ASCII digits.
func Digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
