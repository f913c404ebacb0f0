package boltjournal

import (
	"encoding/binary"
	"encoding/json"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/payrun/payrun/journal"
)

// appendFreshItem appends to dst the JSON encodeItem stores for a fresh
// item, byte for byte, without reflection. A fresh item is one as Ingest
// makes it: accepted, never sent (no reason, attempt, sends, confirms,
// status, conflict, sent or poll times), its payout that of its row
// (Payout.ID is the PayoutID, Payout.Attempt is zero) and its references
// refsFor(Payout). The stored item (journal_layout.go) leaves out the
// payout_id, the payout's id and the references, all of which equal the
// key. at is the JSON (time.Time.MarshalJSON) of the item's Created time,
// which a fresh item's Updated equals: Ingest encodes it once per file,
// not per row. TestAppendFreshItemIsEncodeItem holds it to encodeItem.
func appendFreshItem(dst []byte, it *journal.Item, at []byte) []byte {
	dst = append(dst, `{"batch_id":`...)
	dst = appendJSONString(dst, it.BatchID)
	dst = append(dst, `,"row":`...)
	dst = strconv.AppendInt(dst, int64(it.Row), 10)
	dst = append(dst, `,"provider":`...)
	dst = appendJSONString(dst, it.Provider)
	dst = append(dst, `,"state":`...)
	dst = appendJSONString(dst, string(it.State))
	dst = append(dst, `,"created":`...)
	dst = append(dst, at...)
	dst = append(dst, `,"updated":`...)
	dst = append(dst, at...)
	p := &it.Payout
	dst = append(dst, `,"payout":{"method":`...)
	dst = appendJSONString(dst, string(p.Method))
	dst = appendOptional(dst, `,"country":`, p.Country)
	dst = append(dst, `,"amount":{"minor":`...)
	dst = strconv.AppendInt(dst, p.Amount.Minor, 10)
	dst = append(dst, `,"currency":`...)
	dst = appendJSONString(dst, p.Amount.Currency)
	dst = append(dst, '}')
	dst = appendOptional(dst, `,"description":`, p.Description)
	b := &p.Beneficiary
	dst = append(dst, `,"beneficiary":{`...)
	open := len(dst)
	dst = appendOptional(dst, `,"name":`, b.Name)
	dst = appendOptional(dst, `,"last_name":`, b.LastName)
	dst = appendOptional(dst, `,"email":`, b.Email)
	dst = appendOptional(dst, `,"phone":`, b.Phone)
	dst = appendOptional(dst, `,"document_type":`, b.DocumentType)
	dst = appendOptional(dst, `,"document_number":`, b.DocumentNumber)
	dst = appendOptional(dst, `,"bank_code":`, b.BankCode)
	dst = appendOptional(dst, `,"account_type":`, b.AccountType)
	dst = appendOptional(dst, `,"account_number":`, b.AccountNumber)
	dst = appendOptional(dst, `,"cci":`, b.CCI)
	dst = appendOptional(dst, `,"card_token":`, b.CardToken)
	if len(dst) > open {
		dst = append(dst[:open], dst[open+1:]...) // the first member's comma
	}
	return append(dst, `}},"refs":{}}`...)
}

// appendRowKey appends rowKey(batchID, row) to dst: Ingest builds its row
// keys in the chunk's buffer (stageChunk), not in a slice of their own per
// row. TestAppendRowKeyIsRowKey holds it to rowKey.
func appendRowKey(dst []byte, batchID string, row int) []byte {
	dst = append(dst, batchID...)
	dst = append(dst, 0)
	return binary.BigEndian.AppendUint64(dst, uint64(row))
}

// appendOptional appends a member left out when empty (omitempty).
func appendOptional(dst []byte, name, v string) []byte {
	if v == "" {
		return dst
	}
	return appendJSONString(append(dst, name...), v)
}

// appendJSONString appends s as encoding/json writes a string: valid UTF-8
// as it is, except '"', '\\', control characters, '<', '>', '&' and
// U+2028/U+2029, which it escapes. Strings holding any of those, or invalid
// UTF-8, are left to encoding/json itself.
func appendJSONString(dst []byte, s string) []byte {
	ascii := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= utf8.RuneSelf {
			ascii = false
			continue
		}
		if c < 0x20 || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return appendMarshalled(dst, s)
		}
	}
	if !ascii && (!utf8.ValidString(s) || strings.Contains(s, "\u2028") || strings.Contains(s, "\u2029")) {
		return appendMarshalled(dst, s)
	}
	dst = append(dst, '"')
	dst = append(dst, s...)
	return append(dst, '"')
}

func appendMarshalled(dst []byte, s string) []byte {
	raw, _ := json.Marshal(s) // a string always encodes
	return append(dst, raw...)
}
