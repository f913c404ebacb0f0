package boltjournal

import (
	"strconv"
	"time"

	"github.com/payrun/payrun/journal"

	"github.com/payrun/payrun/money"
	"github.com/payrun/payrun/providers"
)

// The Applier records the fact of every event it applies, many to a
// transaction, and encoding/json's reflection was most of what that cost.
// appendFact writes what json.Marshal writes for a fact, byte for byte,
// without reflection (the strings as appendJSONString writes them).
// TestAppendFact fills every field of the type by reflection, so that a
// field added later fails it until it is written here, and holds it to
// json.Marshal.

// appendFact appends f to dst as json.Marshal encodes it.
func appendFact(dst []byte, f *journal.EventFact) []byte {
	dst = appendJSONString(append(dst, `{"provider":`...), f.Provider)
	dst = appendJSONString(append(dst, `,"event_id":`...), f.EventID)
	dst = appendStatus(append(dst, `,"status":`...), &f.Status)
	if f.DuplicateNotice {
		dst = append(dst, `,"duplicate_notice":true`...)
	}
	dst = strconv.AppendBool(append(dst, `,"applied":`...), f.Applied)
	dst = appendOptional(dst, `,"note":`, f.Note)
	dst = appendTime(append(dst, `,"received":`...), f.Received)
	return append(dst, '}')
}

// appendStatus appends st to dst as json.Marshal encodes it.
func appendStatus(dst []byte, st *providers.Status) []byte {
	dst = appendJSONString(append(dst, `{"outcome":`...), string(st.Outcome))
	dst = appendJSONString(append(dst, `,"refs":{"payout_id":`...), st.Refs.PayoutID)
	dst = appendOptional(dst, `,"method":`, string(st.Refs.Method))
	dst = appendOptional(dst, `,"provider_id":`, st.Refs.ProviderID)
	dst = appendOptional(dst, `,"session_id":`, st.Refs.SessionID)
	dst = append(dst, '}')
	dst = appendOptional(dst, `,"raw_status":`, st.RawStatus)
	dst = appendOptional(dst, `,"code":`, st.Code)
	dst = appendOptional(dst, `,"message":`, st.Message)
	dst = appendOptional(dst, `,"url":`, st.URL)
	if st.Amount != (money.Money{}) {
		dst = strconv.AppendInt(append(dst, `,"amount":{"minor":`...), st.Amount.Minor, 10)
		dst = appendJSONString(append(dst, `,"currency":`...), st.Amount.Currency)
		dst = append(dst, '}')
	}
	if st.Fee != 0 {
		dst = strconv.AppendInt(append(dst, `,"fee":`...), st.Fee, 10)
	}
	dst = appendOptional(dst, `,"recipient":`, st.Recipient)
	if !st.At.IsZero() {
		dst = appendTime(append(dst, `,"at":`...), st.At)
	}
	return append(dst, '}')
}

// appendTime appends t as time.Time's MarshalJSON writes it (RFC 3339
// with nanoseconds, quoted).
func appendTime(dst []byte, t time.Time) []byte {
	return append(t.AppendFormat(append(dst, '"'), time.RFC3339Nano), '"')
}
