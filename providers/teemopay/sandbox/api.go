package sandbox

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/payrun/payrun/providers/sandboxkit"
)

// authenticated checks what TeemoPay checks before reading a request
// (PROVIDERS.md 3.1): app_code, country, the ±30 s timestamp window on the
// sandbox clock, the nonce (32 characters, unused for 24 h) and the body's
// SHA1withRSA sign by the merchant's key. Refusals are envelopes, as the
// real API answers them: 401 for app_code and sign, 403 for an expired
// timestamp or a reused nonce, 400 for missing headers.
func (s *Sandbox) authenticated(next func(http.ResponseWriter, *http.Request, []byte)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 64<<10))
		if err != nil {
			writeEnvelope(w, http.StatusOK, codeBadRequest, "Request body too large", nil)
			return
		}
		h := r.Header.Get
		nonce, ts := h(headerNonce), h(headerTimestamp)
		switch {
		case h(headerAppCode) != s.creds.AppCode:
			writeEnvelope(w, http.StatusOK, codeSignature, "Invalid app_code", nil)
			return
		case h(headerCountry) != "PE":
			writeEnvelope(w, http.StatusOK, codeBadRequest, "Invalid country", nil)
			return
		case len(nonce) != 32:
			writeEnvelope(w, http.StatusOK, codeBadRequest, "nonce must be 32 characters", nil)
			return
		}
		now := s.kit.Clock.Now()
		ms, err := strconv.ParseInt(ts, 10, 64)
		if err != nil || len(ts) != 13 {
			writeEnvelope(w, http.StatusOK, codeBadRequest, "timestamp must be 13-digit milliseconds", nil)
			return
		}
		if d := now.Sub(time.UnixMilli(ms)); d > Window || d < -Window {
			writeEnvelope(w, http.StatusOK, codeExpired, "Request expired", nil)
			return
		}
		if err := verifyBody(s.merchantPub, body, nonce); err != nil {
			writeEnvelope(w, http.StatusOK, codeSignature, "Signature verification failed", nil)
			return
		}
		if !s.useNonce(nonce, now) {
			writeEnvelope(w, http.StatusOK, codeExpired, "Repeated nonce", nil)
			return
		}
		next(w, r, body)
	}
}

// useNonce records a nonce and reports whether it was unused in the last
// NonceTTL.
func (s *Sandbox) useNonce(nonce string, now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(s.nonceOrder) > 0 && now.Sub(s.nonceOrder[0].at) > NonceTTL {
		old := s.nonceOrder[0]
		s.nonceOrder = s.nonceOrder[1:]
		if s.nonces[old.nonce].Equal(old.at) {
			delete(s.nonces, old.nonce)
		}
	}
	if at, ok := s.nonces[nonce]; ok && now.Sub(at) <= NonceTTL {
		return false
	}
	s.nonces[nonce] = now
	s.nonceOrder = append(s.nonceOrder, seenNonce{nonce, now})
	return true
}

// decode reads a request body as TeemoPay's Java platform does: member
// names case-sensitively, members it does not know ignored.
func decode(body []byte, v any) error {
	return jsonv2.Unmarshal(body, v, jsonv2.RejectUnknownMembers(false))
}

func (s *Sandbox) create(w http.ResponseWriter, r *http.Request, body []byte) {
	var req createBody
	if err := decode(body, &req); err != nil {
		writeEnvelope(w, http.StatusOK, codeBadRequest, "Invalid request body", nil)
		return
	}
	amount, msg := validateCreate(req)
	if msg != "" {
		writeEnvelope(w, http.StatusOK, codeBadRequest, msg, nil)
		return
	}
	f := s.kit.Faults()
	rule, ruled := f.Match(req.MerchantOrderNo, amount)
	o, code, msg := s.open(req, amount, f.InsufficientBalance, rule, ruled)
	if code != codeOK {
		writeEnvelope(w, http.StatusOK, code, msg, nil)
		return
	}
	data := createData{MerchantOrderNo: o.orderNo, TradeNo: o.tradeNo, Status: o.createStatus, Amount: req.Amount}
	if ruled && rule.Outcome == "timeout" {
		// Processed, answer lost: the client sees a broken connection.
		sandboxkit.DropConnection(w)
		return
	}
	writeEnvelope(w, http.StatusOK, codeOK, "success", data)
}

func (s *Sandbox) query(w http.ResponseWriter, r *http.Request, body []byte) {
	var req queryBody
	if err := decode(body, &req); err != nil || req.MerchantOrderNo == "" {
		writeEnvelope(w, http.StatusOK, codeBadRequest, "merchantOrderNo is required", nil)
		return
	}
	s.mu.Lock()
	o, ok := s.orders[req.MerchantOrderNo]
	var data queryData
	if ok {
		data = o.queryData()
	}
	s.mu.Unlock()
	if !ok {
		writeEnvelope(w, http.StatusOK, codeBadRequest, msgOrderNotFound, nil)
		return
	}
	writeEnvelope(w, http.StatusOK, codeOK, "success", data)
}

// listOrders serves GET /_sandbox/orders: every order as the query reports it.
func (s *Sandbox) listOrders(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	out := make([]queryData, 0, len(s.orders))
	for _, o := range s.orders {
		out = append(out, o.queryData())
	}
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}

// resendCallback serves POST /_sandbox/callback?merchantOrderNo=...: sends
// the order's current state again, as TeemoPay's sandbox back office can.
func (s *Sandbox) resendCallback(w http.ResponseWriter, r *http.Request) {
	no := r.URL.Query().Get("merchantOrderNo")
	s.mu.Lock()
	o, ok := s.orders[no]
	var cb callbackBody
	var url string
	if ok {
		cb, url = o.callback(), s.callbackURL(o)
	}
	s.mu.Unlock()
	if !ok {
		http.Error(w, "no such order", http.StatusNotFound)
		return
	}
	s.notify(url, cb)
	w.WriteHeader(http.StatusAccepted)
}

func traceID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func blank(s string) bool { return strings.TrimSpace(s) == "" }
