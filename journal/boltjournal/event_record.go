package boltjournal

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/payrun/payrun/journal"

	"github.com/payrun/payrun/money"
	"github.com/payrun/payrun/providers"
)

// An event record is how the journal stores a raw event together with the
// fact it carries (bktEventRecords, indexed by provider and event id:
// event_store.go). Persist writes one for every new event before the
// acknowledgement, inside the group commit, and every byte of it is paid
// for twice there: copied onto a page, and synced. So it is binary: the
// body verbatim (JSON would store it as base64, a third larger), the
// fact's status without field names, the provider and the event id only
// in the index's key. It is a third of the two
// JSON records it replaces (the event, and its fact queued beside it),
// and the queue now holds only the key.
//
// Layout, after the format byte (eventRecordV1):
//
//	flags                  1 byte: recDuplicateNotice, recAmount, recAt
//	received               time (below)
//	payout_id, type        strings (uvarint length, then the bytes)
//	outcome                string
//	refs                   strings: payout_id, method, provider id, session id
//	raw status, code, message, url, recipient
//	                       strings
//	amount                 varint minor units, string currency (recAmount)
//	fee                    varint
//	at                     time, varint zone offset in seconds (recAt)
//	replay keys            uvarint count, then strings
//	body                   the rest, verbatim
//
// A time is varint Unix seconds and uvarint nanoseconds; received is UTC.
// A new field gets a new format byte: a record is never read as another.
//
// eventRecordV2 is V1 with the body compressed (S2, the Snappy format's
// faster and better successor: about a microsecond for a notification,
// without state to allocate or reset, which matters because every
// delivery compresses its own before the acknowledgement): a provider's
// notification is JSON that repeats its field names, and it was most of
// what an event took in the journal. A body that does not shrink is
// stored as V1.
//
// eventRecordV3 is a V1 record, after its format byte, compressed whole
// with the notifications' dictionary (dict.go): the fact's strings (the
// payout_id, the provider's ids, the recipient, the amount) are the
// body's, so compressed together they are stored once, and the
// dictionary holds the shape of the body. An event of a night took 312
// bytes as V2, 190 as V3. Records are written as V3, or as V1 when that
// is smaller; V2 is read as it was.
const (
	eventRecordV1 = 1
	eventRecordV2 = 2
	eventRecordV3 = 3
)

// Flags of an event record.
const (
	recDuplicateNotice = 1 << iota
	recAmount
	recAt
)

// appendEventRecord appends the record of ev, carrying f, to dst. ev's
// Applied and Note, and f's Provider, EventID, Applied, Note and Received
// are not in it: the provider and id are the key, what became of the event
// is its fact's (in bktEventIndex), and the fact was received with the event.
func appendEventRecord(dst []byte, ev *journal.Event, f *journal.EventFact) []byte {
	at := len(dst)
	return compressRecord(eventDict(), appendPlainRecord(dst, ev, f), at, eventRecordV3)
}

// appendPlainRecord appends ev's record as V1 lays it out.
func appendPlainRecord(dst []byte, ev *journal.Event, f *journal.EventFact) []byte {
	st := &f.Status
	var flags byte
	if f.DuplicateNotice {
		flags |= recDuplicateNotice
	}
	if st.Amount != (money.Money{}) {
		flags |= recAmount
	}
	if !st.At.IsZero() {
		flags |= recAt
	}
	dst = append(dst, eventRecordV1, flags)
	dst = appendRecTime(dst, ev.Received)
	for _, s := range [...]string{ev.PayoutID, ev.Type, string(st.Outcome), st.Refs.PayoutID, string(st.Refs.Method),
		st.Refs.ProviderID, st.Refs.SessionID, st.RawStatus, st.Code, st.Message, st.URL, st.Recipient} {
		dst = appendRecString(dst, s)
	}
	if flags&recAmount != 0 {
		dst = binary.AppendVarint(dst, st.Amount.Minor)
		dst = appendRecString(dst, st.Amount.Currency)
	}
	dst = binary.AppendVarint(dst, st.Fee)
	if flags&recAt != 0 {
		_, off := st.At.Zone()
		dst = binary.AppendVarint(appendRecTime(dst, st.At), int64(off))
	}
	dst = binary.AppendUvarint(dst, uint64(len(ev.ReplayKeys)))
	for _, k := range ev.ReplayKeys {
		dst = appendRecString(dst, k)
	}
	return append(dst, ev.Body...)
}

func appendRecString(dst []byte, s string) []byte {
	return append(binary.AppendUvarint(dst, uint64(len(s))), s...)
}

func appendRecTime(dst []byte, t time.Time) []byte {
	return binary.AppendUvarint(binary.AppendVarint(dst, t.Unix()), uint64(t.Nanosecond()))
}

// errRecord is what a record that cannot be read is wrapped in.
var errRecord = errors.New("unreadable event record")

// readEventRecord decodes the record v stored under the event key k: the
// raw event, with its body when withBody (a copy: v is bbolt's), and the
// fact it carries, with Provider, EventID and Received filled in. Applied
// and Note are left false and empty.
func readEventRecord(k, v []byte, withBody bool) (journal.Event, journal.EventFact, error) {
	var ev journal.Event
	var f journal.EventFact
	var err error
	if ev.Provider, ev.ID, err = splitEventKey(k); err != nil {
		return ev, f, err
	}
	f.Provider, f.EventID = ev.Provider, ev.ID
	r := recReader{b: v}
	format := r.byte()
	if format == eventRecordV3 {
		plain, err := expand(eventDict(), v[1:])
		if err != nil {
			return ev, f, fmt.Errorf("event %s %s: %w: %w", ev.Provider, ev.ID, errRecord, err)
		}
		r.b = plain
	}
	if format != eventRecordV1 && format != eventRecordV2 && format != eventRecordV3 && r.err == nil {
		r.err = fmt.Errorf("format %d", format)
	}
	flags := r.byte()
	f.DuplicateNotice = flags&recDuplicateNotice != 0
	ev.Received = r.time().UTC()
	f.Received = ev.Received
	st := &f.Status
	var outcome, method string
	for _, s := range [...]*string{&ev.PayoutID, &ev.Type, &outcome, &st.Refs.PayoutID, &method,
		&st.Refs.ProviderID, &st.Refs.SessionID, &st.RawStatus, &st.Code, &st.Message, &st.URL, &st.Recipient} {
		*s = r.string()
	}
	st.Outcome, st.Refs.Method = providers.Outcome(outcome), providers.Method(method)
	if flags&recAmount != 0 {
		st.Amount.Minor = r.varint()
		st.Amount.Currency = r.string()
	}
	st.Fee = r.varint()
	if flags&recAt != 0 {
		at := r.time()
		if off := r.varint(); off != 0 {
			at = at.In(time.FixedZone("", int(off)))
		} else {
			at = at.UTC()
		}
		st.At = at
	}
	if n := r.uvarint(); n > 0 && r.err == nil {
		if n > uint64(len(r.b)) {
			r.err = errors.New("replay keys beyond the record")
		} else {
			ev.ReplayKeys = make([]string, n)
			for i := range ev.ReplayKeys {
				ev.ReplayKeys[i] = r.string()
			}
		}
	}
	if r.err != nil {
		return journal.Event{}, journal.EventFact{}, fmt.Errorf("event %s %s: %w: %w", ev.Provider, ev.ID, errRecord, r.err)
	}
	if withBody && len(r.b) > 0 {
		var err error
		switch format {
		case eventRecordV2:
			ev.Body, err = expand(nil, r.b)
		case eventRecordV3:
			ev.Body = r.b // expand's own copy
		default:
			ev.Body = bytes.Clone(r.b)
		}
		if err != nil {
			return journal.Event{}, journal.EventFact{}, fmt.Errorf("event %s %s: %w: body: %w", ev.Provider, ev.ID, errRecord, err)
		}
	}
	return ev, f, nil
}

// recReader reads an event record's fields in order; the first field that
// runs past the end sets err, and every read after it returns zero.
type recReader struct {
	b   []byte
	err error
}

func (r *recReader) fail(what string) {
	if r.err == nil {
		r.err = fmt.Errorf("%s runs past the end", what)
	}
	r.b = nil
}

func (r *recReader) byte() byte {
	if len(r.b) == 0 {
		r.fail("a flag byte")
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *recReader) uvarint() uint64 { return readNumber(r, binary.Uvarint) }

func (r *recReader) varint() int64 { return readNumber(r, binary.Varint) }

// readNumber reads one number with read (binary.Uvarint or binary.Varint).
func readNumber[T uint64 | int64](r *recReader, read func([]byte) (T, int)) T {
	v, n := read(r.b)
	if n <= 0 {
		r.fail("a number")
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *recReader) string() string {
	n := r.uvarint()
	if n > uint64(len(r.b)) {
		r.fail("a string")
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}

func (r *recReader) time() time.Time {
	sec, nsec := r.varint(), r.uvarint()
	if nsec >= 1e9 && r.err == nil {
		r.err = fmt.Errorf("%d nanoseconds", nsec)
	}
	if r.err != nil {
		return time.Time{}
	}
	return time.Unix(sec, int64(nsec))
}
