package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/payrun/payrun/providers"
	"github.com/payrun/payrun/providers/sandboxes"
	"github.com/payrun/payrun/providers/sandboxkit"
)

// The night's providers run in a child process of their own, so that the
// night's CPU and memory figures are payrun's alone: the sandboxes sign
// webhooks with RSA too, and keep every payout, delivery and ledger entry
// in memory.

// Request kinds, as a provider counts them against its limit.
const (
	kindSend    = 's' // creates a payout or a session, or starts one
	kindConfirm = 'c'
	kindPoll    = 'p' // a status query
	kindOther   = 'o' // cancel, balance, token info
)

// requestKind classifies one API request by its path.
func requestKind(method, path string) byte {
	switch {
	case strings.HasSuffix(path, "/session/create"), strings.HasSuffix(path, "/session/start/payout"):
		return kindSend
	case strings.HasSuffix(path, "/session/confirm"):
		return kindConfirm
	case strings.HasSuffix(path, "/session/status"):
		return kindPoll
	case strings.Contains(path, "/payouts/") && method == http.MethodGet: // Monnet by Id
		return kindPoll
	case strings.HasSuffix(path, "/payouts") && method == http.MethodPost: // Monnet
		return kindSend
	case strings.Contains(path, "payout/create") || strings.Contains(path, "/create"): // TeemoPay
		return kindSend
	case strings.Contains(path, "query"): // TeemoPay
		return kindPoll
	}
	return kindOther
}

// arrivals records when each API request reached one sandbox, by kind.
type arrivals struct {
	mu    sync.Mutex
	at    []int64 // unix nanoseconds
	kinds []byte
}

func (a *arrivals) add(t time.Time, k byte) {
	a.mu.Lock()
	a.at = append(a.at, t.UnixNano())
	a.kinds = append(a.kinds, k)
	a.mu.Unlock()
}

// ProviderLoad is what one sandbox saw in a night.
type ProviderLoad struct {
	Requests int `json:"requests"`
	Sends    int `json:"sends"`
	Confirms int `json:"confirms"`
	Polls    int `json:"polls"`
	Other    int `json:"other"`
	// BusiestSecond and BusiestMinute are the most requests that arrived
	// within any one second and any sixty seconds (sliding windows).
	BusiestSecond int `json:"busiest_second"`
	BusiestMinute int `json:"busiest_minute"`
	// FirstSend and LastSend are the first and last send requests' arrival.
	FirstSend time.Time `json:"first_send"`
	LastSend  time.Time `json:"last_send"`
	// Paid counts merchant references paid once; PaidTwice those paid more.
	Paid      int `json:"paid"`
	PaidTwice int `json:"paid_twice"`
	// Webhook deliveries: accepted, attempted and dropped by the fault.
	WebhooksAccepted int `json:"webhooks_accepted"`
	WebhookAttempts  int `json:"webhook_attempts"`
	WebhooksDropped  int `json:"webhooks_dropped"`
}

// slidingMax is the most timestamps (sorted) within any window.
func slidingMax(t []int64, window time.Duration) int {
	best, lo := 0, 0
	for hi := range t {
		for t[hi]-t[lo] >= int64(window) {
			lo++
		}
		best = max(best, hi-lo+1)
	}
	return best
}

func (a *arrivals) load() ProviderLoad {
	a.mu.Lock()
	defer a.mu.Unlock()
	var l ProviderLoad
	var sends []int64
	for i, k := range a.kinds {
		switch k {
		case kindSend:
			l.Sends++
			sends = append(sends, a.at[i])
		case kindConfirm:
			l.Confirms++
		case kindPoll:
			l.Polls++
		default:
			l.Other++
		}
	}
	l.Requests = len(a.at)
	t := slices.Clone(a.at)
	slices.Sort(t)
	l.BusiestSecond = slidingMax(t, time.Second)
	l.BusiestMinute = slidingMax(t, time.Minute)
	if len(sends) > 0 {
		slices.Sort(sends)
		l.FirstSend, l.LastSend = time.Unix(0, sends[0]), time.Unix(0, sends[len(sends)-1])
	}
	return l
}

// nightFaults are the sandboxes' knobs in a night: a provider's latency on
// every request, a few 5xx and lost answers (in doubt, then resolved),
// webhooks duplicated, delayed, reordered and sometimes lost, one payout
// in fifty refused by the bank. dropAll loses every webhook.
func nightFaults(name string, dropAll bool) sandboxkit.Faults {
	f := sandboxkit.Faults{
		Latency:              NightLatency,
		Error5xxRate:         0.002,
		DropResponseRate:     0.001,
		WebhookDuplicateRate: 0.02,
		WebhookDropRate:      0.01,
		WebhookDelay:         300 * time.Millisecond,
		WebhookReorder:       true,
		ProcessingDelay:      time.Second,
	}
	if dropAll {
		f.WebhookDropRate = 1
	}
	switch name {
	case "monnet":
		f.Rules = []sandboxkit.Rule{{RefContains: "-F", Outcome: "fail", Code: "4001", Message: "Account closed"}}
	case "teemopay":
		f.Rules = []sandboxkit.Rule{{RefContains: "-F", Outcome: "fail", Code: "1000", Message: "Account missing or restricted"}}
	default:
		f.Rules = []sandboxkit.Rule{{RefContains: "-F", Outcome: "fail", Code: "card_declined", Message: "Card declined by issuer"}}
	}
	return f
}

// nightSandboxes is the sandbox child: it starts the four sandboxes behind
// recorders, writes their client configurations to dir/providers.json,
// prints "ready", serves until its standard input closes, then writes what
// each saw to dir/load.json.
func nightSandboxes(dir, hooks string, dropAll bool) (Side, error) {
	// Webhooks go out from many goroutines; the default transport keeps
	// two idle connections per host and would open a new one for most.
	if tr, ok := http.DefaultTransport.(*http.Transport); ok {
		tr.MaxIdleConnsPerHost = 64
	}
	land, err := sandboxes.Start(sandboxes.Options{Dir: dir, WebhookBase: hooks, Seed: 20261126, ProcessingDelay: time.Second})
	if err != nil {
		return Side{}, err
	}
	defer land.Close()
	rec := map[string]*arrivals{}
	var servers []*http.Server
	defer func() {
		for _, s := range servers {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			_ = s.Shutdown(ctx)
			cancel()
		}
	}()
	cfgs := map[string]providers.Config{}
	for _, name := range land.Names() {
		sb := land.Sandboxes[name]
		kit := land.Kit(name)
		kit.SetFaults(nightFaults(name, dropAll))
		a := &arrivals{}
		rec[name] = a
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return Side{}, err
		}
		srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !strings.HasPrefix(r.URL.Path, "/_sandbox/") {
				a.add(time.Now(), requestKind(r.Method, r.URL.Path))
			}
			sb.ServeHTTP(w, r)
		})}
		go func() { _ = srv.Serve(ln) }()
		servers = append(servers, srv)
		cfg := land.Configs[name]
		cfg.BaseURL = "http://" + ln.Addr().String()
		cfgs[name] = cfg
		if name == "monnet" {
			// Enough balance for any night: a payout refused for funds is
			// not what the night measures.
			resp, err := http.Post(cfg.BaseURL+"/_sandbox/balance?currency=PEN&minor=900000000000000", "text/plain", nil)
			if err != nil {
				return Side{}, err
			}
			resp.Body.Close()
		}
	}
	raw, err := json.Marshal(cfgs)
	if err != nil {
		return Side{}, err
	}
	if err := os.WriteFile(filepath.Join(dir, "providers.json"), raw, 0o600); err != nil {
		return Side{}, err
	}
	fmt.Fprintln(os.Stdout, "ready")
	_, _ = io.Copy(io.Discard, os.Stdin) // until the parent closes it
	loads := map[string]ProviderLoad{}
	for name, a := range rec {
		l := a.load()
		for _, n := range land.Kit(name).Ledger.PaidByReference() {
			if n == 1 {
				l.Paid++
			} else {
				l.PaidTwice++
			}
		}
		for _, d := range land.Kit(name).Notifier.Deliveries() {
			switch {
			case d.Dropped:
				l.WebhooksDropped++
			default:
				l.WebhookAttempts++
				if d.Accepted {
					l.WebhooksAccepted++
				}
			}
		}
		loads[name] = l
	}
	raw, err = json.Marshal(loads)
	if err != nil {
		return Side{}, err
	}
	return Side{}, os.WriteFile(filepath.Join(dir, "load.json"), raw, 0o600)
}

// readLoads reads what the sandbox child wrote.
func readLoads(dir string) (map[string]ProviderLoad, error) {
	raw, err := os.ReadFile(filepath.Join(dir, "load.json"))
	if err != nil {
		return nil, fmt.Errorf("the sandboxes' figures: %w", err)
	}
	var out map[string]ProviderLoad
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, errors.New("the sandboxes saw nothing")
	}
	return out, nil
}
