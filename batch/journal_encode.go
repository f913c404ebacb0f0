package batch

import (
	"encoding/base64"
	"strconv"
	"time"

	"github.com/payrun/payrun/batch/money"
	"github.com/payrun/payrun/providers"
)

// The receiver encodes a raw event and its fact for every notification
// before it can acknowledge it, and encoding/json's reflection was most of
// what that cost. appendEvent and appendFact write what json.Marshal
// writes for them, byte for byte, without reflection (the strings as
// appendJSONString writes them). TestAppendEventAndFact fills every field
// of the types by reflection, so that a field added later fails it until
// it is written here, and holds both to json.Marshal.

// appendEvent appends ev to dst as json.Marshal encodes it.
func appendEvent(dst []byte, ev *Event) []byte {
	dst = appendJSONString(append(dst, `{"provider":`...), ev.Provider)
	dst = appendJSONString(append(dst, `,"id":`...), ev.ID)
	dst = appendOptional(dst, `,"payout_id":`, ev.PayoutID)
	dst = appendOptional(dst, `,"type":`, ev.Type)
	dst = appendTime(append(dst, `,"received":`...), ev.Received)
	dst = append(dst, `,"body":`...)
	if ev.Body == nil {
		dst = append(dst, "null"...)
	} else {
		dst = append(dst, '"')
		dst = base64.StdEncoding.AppendEncode(dst, ev.Body)
		dst = append(dst, '"')
	}
	if ev.Applied {
		dst = append(dst, `,"applied":true`...)
	}
	dst = appendOptional(dst, `,"note":`, ev.Note)
	if len(ev.ReplayKeys) > 0 {
		dst = append(dst, `,"replay_keys":[`...)
		for i, k := range ev.ReplayKeys {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendJSONString(dst, k)
		}
		dst = append(dst, ']')
	}
	return append(dst, '}')
}

// appendFact appends f to dst as json.Marshal encodes it.
func appendFact(dst []byte, f *EventFact) []byte {
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
