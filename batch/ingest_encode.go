package batch

import (
	"encoding/json"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/payrun/payrun/providers"
)

// freshItem reports whether an item is as Ingest makes it: accepted, never
// sent, its payout and references those of its row. appendFreshItem
// encodes only such items.
func freshItem(it *Item) bool {
	return it.Reason == "" && it.Attempt == 0 && it.Sends == 0 && it.Confirms == 0 && it.Conflict == "" &&
		it.Last == (providers.Status{}) && it.SentAt.IsZero() && it.NextPoll.IsZero() && it.Polls == 0 &&
		it.Payout.ID == it.PayoutID && it.Payout.Attempt == 0 && it.Refs == refsFor(it.Payout) && it.PayoutID != ""
}

// appendFreshItem appends to dst the JSON encodeItem stores for a fresh
// item (freshItem), byte for byte, without reflection: the stored item
// (journal_layout.go) leaves out the payout_id, the payout's id and the
// references, all of which equal the key. created and updated are the
// times' JSON (time.Time.MarshalJSON), the same for every row of a file.
// TestAppendFreshItemIsEncodeItem holds it to encodeItem.
func appendFreshItem(dst []byte, it *Item, created, updated []byte) []byte {
	dst = append(dst, `{"batch_id":`...)
	dst = appendJSONString(dst, it.BatchID)
	dst = append(dst, `,"row":`...)
	dst = strconv.AppendInt(dst, int64(it.Row), 10)
	dst = append(dst, `,"provider":`...)
	dst = appendJSONString(dst, it.Provider)
	dst = append(dst, `,"state":`...)
	dst = appendJSONString(dst, string(it.State))
	dst = append(dst, `,"created":`...)
	dst = append(dst, created...)
	dst = append(dst, `,"updated":`...)
	dst = append(dst, updated...)
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
