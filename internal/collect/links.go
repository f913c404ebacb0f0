package collect

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/payrun/payrun/journal"
	"github.com/payrun/payrun/providers"
	"github.com/payrun/payrun/reports"
)

// KeyFileMode is the only mode a link key file may have: whoever reads the
// key can make links for any payout.
const KeyFileMode = 0o600

// LoadKey reads the key that signs beneficiary links from path, creating
// it (32 random bytes, mode 0600) when it does not exist. A key file that
// others may read or write is refused: it would let them make links.
func LoadKey(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, fmt.Errorf("link key: %w", err)
		}
		key := make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return nil, err
		}
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, KeyFileMode)
		if errors.Is(err, fs.ErrExist) {
			return LoadKey(path) // another process made it first
		}
		if err != nil {
			return nil, fmt.Errorf("link key: %w", err)
		}
		_, werr := f.Write([]byte(base64.StdEncoding.EncodeToString(key) + "\n"))
		if err := errors.Join(werr, f.Sync(), f.Close()); err != nil {
			return nil, fmt.Errorf("link key %s: %w", path, err)
		}
		return key, nil
	}
	if err != nil {
		return nil, fmt.Errorf("link key: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("link key %s has mode %04o: others could make beneficiary links; chmod 600 it", path, fi.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("link key: %w", err)
	}
	key, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(key) < 32 {
		return nil, fmt.Errorf("link key %s is not a base64 key of 32 bytes or more", path)
	}
	return key, nil
}

// Signer makes and checks the links of card collection pages:
//
//	{public_url}/collect/{payout_id}?e={unix expiry}&s={signature}
//
// The signature is an HMAC-SHA256, under the daemon's link key, of the
// payout id and the expiry: a link cannot be guessed, changed to another
// payout or made to live longer. Only the link of the expiry the journal
// implies for the payout is accepted, so a payout has one live link.
type Signer struct {
	base string // public_url without a trailing slash
	key  []byte
}

// NewSigner returns a Signer for links under publicURL.
func NewSigner(publicURL string, key []byte) (*Signer, error) {
	u, err := url.Parse(publicURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("serve.public_url %q: beneficiary links need an http(s) URL", publicURL)
	}
	if len(key) < 32 {
		return nil, errors.New("link key: too short")
	}
	return &Signer{base: strings.TrimRight(publicURL, "/"), key: key}, nil
}

// PathPrefix is where the pages are served.
const PathPrefix = "/collect/"

func (s *Signer) mac(parts ...string) []byte {
	m := hmac.New(sha256.New, s.key)
	for _, p := range parts {
		m.Write([]byte(p))
		m.Write([]byte{0})
	}
	return m.Sum(nil)
}

func (s *Signer) signature(payoutID string, exp int64) string {
	return base64.RawURLEncoding.EncodeToString(s.mac("payrun collect link v1", payoutID, strconv.FormatInt(exp, 10)))
}

// URL is the link of a payout's page, valid until expires.
func (s *Signer) URL(payoutID string, expires time.Time) string {
	exp := expires.Unix()
	return s.base + PathPrefix + url.PathEscape(payoutID) + "?e=" + strconv.FormatInt(exp, 10) + "&s=" + s.signature(payoutID, exp)
}

// Check verifies a link's expiry and signature parameters for a payout,
// in constant time, and returns the expiry they name.
func (s *Signer) Check(payoutID, e, sig string) (time.Time, bool) {
	exp, err := strconv.ParseInt(e, 10, 64)
	if err != nil || exp <= 0 {
		return time.Time{}, false
	}
	want := s.signature(payoutID, exp)
	if !hmac.Equal([]byte(sig), []byte(want)) {
		return time.Time{}, false
	}
	return time.Unix(exp, 0), true
}

// csrf is the value a page's form must carry for the cookie it set.
func (s *Signer) csrf(payoutID, cookie string) string {
	return base64.RawURLEncoding.EncodeToString(s.mac("payrun collect csrf v1", payoutID, cookie))
}

// Lifetimes says how long links live: the provider's link lifetime for
// the method (providers.LinkLifetime), capped by Deadline when set (the
// configuration's reconcile.link_deadline), 24 hours when the provider
// states none.
type Lifetimes struct {
	Providers map[string]providers.Provider
	Deadline  time.Duration
}

// Of is the lifetime of an item's link.
func (l Lifetimes) Of(it journal.Item) time.Duration {
	d := 24 * time.Hour
	if p, ok := l.Providers[it.Provider]; ok {
		if lt := providers.LinkLifetime(p, it.Payout.Method); lt > 0 {
			d = lt
		}
	}
	if l.Deadline > 0 && l.Deadline < d {
		d = l.Deadline
	}
	return d
}

// Expiry is when an item's link stops working: its lifetime after the
// payout was first sent (the widget token, or the provider's link, cannot
// be older), to the second. A token made again after a crash keeps the
// payout's link, and its expiry.
func (l Lifetimes) Expiry(it journal.Item) time.Time {
	since := it.SentAt
	if since.IsZero() {
		since = it.Created
	}
	return since.Add(l.Of(it)).Truncate(time.Second)
}

// Waiting lists every payout waiting for its beneficiary with its link:
// the card collection page (signed by s; none when s is nil), or the
// provider's own link (Monnet card push iframes, payment links). Links
// past their expiry are left out.
func Waiting(ctx context.Context, j journal.Journal, s *Signer, l Lifetimes, now time.Time) ([]reports.Link, error) {
	var out []reports.Link
	err := j.OpenItems(ctx, func(it journal.Item) bool {
		if it.State != journal.AwaitingBeneficiary {
			return true
		}
		link, ok := LinkOf(it, s, l)
		if ok && now.Before(link.Expires) {
			out = append(out, link)
		}
		return true
	})
	return out, err
}

// LinkOf is an item's link, when it waits for its beneficiary.
func LinkOf(it journal.Item, s *Signer, l Lifetimes) (reports.Link, bool) {
	link := reports.Link{BatchID: it.BatchID, PayoutID: it.PayoutID, Provider: it.Provider, Method: string(it.Payout.Method),
		Beneficiary: it.Payout.Beneficiary.FullName(), Email: it.Payout.Beneficiary.Email, Amount: it.Payout.Amount,
		Expires: l.Expiry(it)}
	switch {
	case it.Payout.Method == providers.CardToken && it.Payout.Beneficiary.CardToken == "":
		if s == nil {
			return link, false
		}
		link.Kind, link.URL = "card collection", s.URL(it.PayoutID, link.Expires)
	case it.Last.URL != "":
		link.Kind, link.URL = string(it.Payout.Method), it.Last.URL
		if it.Payout.Method == providers.CardPush {
			link.Kind = "card push"
		} else if it.Payout.Method == providers.PaymentLink {
			link.Kind = "payment link"
		}
	default:
		return link, false
	}
	return link, true
}
