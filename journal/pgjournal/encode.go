package pgjournal

import (
	"encoding/json"
	"fmt"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/jackc/pgx/v5"
	"github.com/payrun/payrun/journal"
	"github.com/payrun/payrun/journal/internal/leanitem"
)

// An item is stored as columns (payout_id, batch_id, row, provider, state:
// what is queried) and the rest as JSON without what the columns and the
// item itself repeat: the payout's id when it is the payout_id, the
// references' payout_id and method, the last status's references when
// they are the item's. A million items are read end to end by the matcher,
// and each byte left out is a byte less on disk, in the server's cache
// and on the wire. (boltjournal's layout.go does the same for its values.)

// storedItem is an Item as the items table's item column holds it. The
// shadowing fields are left empty: the columns hold them.
type storedItem struct {
	journal.Item
	PayoutID string          `json:"payout_id,omitempty"`
	BatchID  string          `json:"batch_id,omitempty"`
	Row      int             `json:"row,omitempty"`
	Provider string          `json:"provider,omitempty"`
	State    journal.State   `json:"state,omitempty"`
	Payout   leanitem.Payout `json:"payout"`
	Refs     leanitem.Refs   `json:"refs"`
	Last     leanitem.Status `json:"last,omitzero"`
}

// encodeItem is the item column of it.
func encodeItem(it *journal.Item) ([]byte, error) {
	if it.PayoutID == "" {
		return nil, fmt.Errorf("an item without a payout_id cannot be stored")
	}
	s := storedItem{Item: *it}
	s.Payout, s.Refs, s.Last = leanitem.Lean(it)
	return json.Marshal(&s)
}

// decodeItem restores an item from its columns and item column. It
// decodes with the JSON v2 implementation, several times faster than
// encoding/json's decoder on an item; the JSON is encoding/json's.
func decodeItem(payoutID, batchID string, row int, provider, state string, raw []byte, it *journal.Item) error {
	var s storedItem
	if err := jsonv2.Unmarshal(raw, &s); err != nil {
		return fmt.Errorf("payout %s: %w", payoutID, err)
	}
	out := s.Item
	out.PayoutID, out.BatchID, out.Row, out.Provider, out.State = payoutID, batchID, row, provider, journal.State(state)
	leanitem.Restore(&out, s.Payout, s.Refs, s.Last)
	*it = out
	return nil
}

// itemColumns are the columns an item is read from, in decodeItem's order.
const itemColumns = `payout_id, batch_id, "row", provider, state, item`

// heldColumns are itemColumns and the item's holder (cluster.go).
const heldColumns = itemColumns + `, holder`

// scanHeld reads one item and its holder from a row of heldColumns.
func scanHeld(row pgx.Row, it *journal.Item, holder *string) error {
	var id, batch, provider, state string
	var n int
	var raw []byte
	if err := row.Scan(&id, &batch, &n, &provider, &state, &raw, holder); err != nil {
		return err
	}
	return decodeItem(id, batch, n, provider, state, raw, it)
}

// scanItem reads one item from a row of itemColumns.
func scanItem(row pgx.Row, it *journal.Item) error {
	var id, batch, provider, state string
	var n int
	var raw []byte
	if err := row.Scan(&id, &batch, &n, &provider, &state, &raw); err != nil {
		return err
	}
	return decodeItem(id, batch, n, provider, state, raw, it)
}

// storedEventFact is an event's fact as the events and event_facts tables
// hold it: the provider and event id are the row's key.
type storedEventFact struct {
	journal.EventFact
	Provider string `json:"provider,omitempty"`
	EventID  string `json:"event_id,omitempty"`
}

func encodeFact(f journal.EventFact) ([]byte, error) {
	return json.Marshal(storedEventFact{EventFact: f})
}

func decodeFact(provider, eventID string, raw []byte) (journal.EventFact, error) {
	var s storedEventFact
	if err := jsonv2.Unmarshal(raw, &s); err != nil {
		return journal.EventFact{}, fmt.Errorf("event %s %s: fact: %w", provider, eventID, err)
	}
	f := s.EventFact
	f.Provider, f.EventID = provider, eventID
	return f, nil
}
