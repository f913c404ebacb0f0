package boltjournal

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"

	bolt "go.etcd.io/bbolt"
)

// The intake log was, in schema 4, a file beside the journal (its path
// plus intakeSuffix) where the webhook receiver's events became durable
// before they were acknowledged, until they were moved into the journal.
// Schema 5 stores events in the group commit that acknowledges them, and
// has no such file: a schema 4 journal is upgraded by moving what its log
// still holds (a crash's leftovers) into the file in the upgrade's
// transaction (drainIntake), after which Open removes the log.
//
// Layout: two 4 KB header slots (magic, generation, checksum; the valid one
// of the higher generation is current), then records from intakeHeader on,
// each 8-byte aligned:
//
//	length u32 | crc32c u32 | generation u64 | kind byte | key (uvarint length, bytes) | value
//
// where length and crc32c cover what follows them. Reading stops at the
// first record that is cut short, fails its checksum or belongs to
// another generation: a write a crash cut short was never acknowledged.
const (
	intakeSuffix  = "-intake"
	intakeSlot    = 4096
	intakeHeader  = 2 * intakeSlot
	intakeMaxRec  = 16 << 20
	intakeRecHead = 8
)

var (
	intakeMagic = [8]byte{'p', 'a', 'y', 'r', 'u', 'n', 'I', 'L'}
	castagnoli  = crc32.MakeTable(crc32.Castagnoli)
)

// errIntake wraps what cannot be read of an intake log.
var errIntake = errors.New("webhook intake log of schema 4")

// An intake record is one of two kinds.
const (
	// intakeEvent is a new event: its key in the events bucket and its
	// record (event_record.go).
	intakeEvent byte = 'E'
	// intakeReplay is the replay key of a later delivery of an event
	// logged or stored before, to be kept with it.
	intakeReplay byte = 'R'
)

// intakeRec is a record of the log.
type intakeRec struct {
	kind byte
	key  []byte
	val  []byte
}

// drainIntake moves the records of the intake log at path into tx's
// buckets, in the order they were logged, as the log's mover stored them:
// a new event is stored and queued; an event the journal already holds
// only keeps its replay keys; a replay key is kept with its event. A
// missing log holds nothing.
func drainIntake(tx *bolt.Tx, path string) error {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("%w: %v", errIntake, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("%w: %v", errIntake, err)
	}
	gen, ok := intakeGen(f)
	if !ok {
		if st.Size() <= intakeHeader {
			return nil // a crash cut its creation short: nothing was logged
		}
		return fmt.Errorf("%w: %s: neither header is valid (not a payrun intake log, or damaged)", errIntake, path)
	}
	recs, _, err := scanIntake(io.NewSectionReader(f, intakeHeader, max(st.Size()-intakeHeader, 0)), gen)
	if err != nil {
		return fmt.Errorf("%w: %s: %v", errIntake, path, err)
	}
	// The log's events go into schema 7's layout, which the upgrade then
	// moves (indexEvents).
	stored, err := tx.CreateBucketIfNotExists(bktEventsV7)
	if err != nil {
		return err
	}
	queue := tx.Bucket(bktQueue)
	for _, r := range recs {
		raw := stored.Get(r.key)
		switch {
		case r.kind == intakeEvent && raw == nil:
			seq, err := queue.NextSequence()
			if err != nil {
				return err
			}
			if err := stored.Put(r.key, r.val); err != nil {
				return err
			}
			if err := queue.Put(u64(seq), r.key); err != nil {
				return err
			}
		case raw == nil:
			return fmt.Errorf("%w: replay key for event %q, which is neither logged nor stored", errIntake, r.key)
		default:
			keys, err := recordKeys(r)
			if err != nil {
				return err
			}
			put := func(rec []byte) error { return stored.Put(r.key, rec) }
			if err := keepReplayKeys(put, r.key, raw, keys...); err != nil {
				return err
			}
		}
	}
	return nil
}

// removeIntake removes a drained intake log, durably.
func removeIntake(path string) error {
	err := os.Remove(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	return syncDir(filepath.Dir(path))
}

// recordKeys returns the replay keys a record brings.
func recordKeys(r intakeRec) ([]string, error) {
	if r.kind == intakeReplay {
		return []string{string(r.val)}, nil
	}
	ev, _, err := readEventRecord(r.key, r.val, false)
	return ev.ReplayKeys, err
}

// keepReplayKeys adds to the event stored under k (its record rec) the
// replay keys it does not hold yet; it rewrites the record with put once,
// or not at all.
func keepReplayKeys(put func(rec []byte) error, k, rec []byte, keys ...string) error {
	ev, f, err := readEventRecord(k, rec, true)
	if err != nil {
		return err
	}
	n := len(ev.ReplayKeys)
	for _, key := range keys {
		ev = ev.WithReplayKey(key)
	}
	if len(ev.ReplayKeys) == n {
		return nil
	}
	return put(appendEventRecord(nil, &ev, &f))
}

// intakeGen returns the current generation of the log in f: that of its
// valid header slot, or of the higher one if both are.
func intakeGen(f *os.File) (uint64, bool) {
	hdr := make([]byte, intakeHeader)
	n, _ := io.ReadFull(io.NewSectionReader(f, 0, intakeHeader), hdr)
	g0, ok0 := readIntakeSlot(hdr[:min(n, intakeSlot)])
	g1, ok1 := readIntakeSlot(hdr[min(n, intakeSlot):n])
	switch {
	case ok0 && (!ok1 || g0 > g1):
		return g0, true
	case ok1:
		return g1, true
	}
	return 0, false
}

// readIntakeSlot returns the generation a header slot holds, if it is valid.
func readIntakeSlot(b []byte) (uint64, bool) {
	if len(b) < 20 || [8]byte(b[:8]) != intakeMagic || binary.LittleEndian.Uint32(b[16:]) != crc32.Checksum(b[:16], castagnoli) {
		return 0, false
	}
	return binary.LittleEndian.Uint64(b[8:]), true
}

// scanIntake reads records of generation gen from r until the first that
// is not one; end is where that is (relative to r).
func scanIntake(r io.Reader, gen uint64) (recs []intakeRec, end int64, err error) {
	br := bufio.NewReaderSize(r, 1<<20)
	var head [intakeRecHead]byte
	for {
		if _, err := io.ReadFull(br, head[:]); err != nil {
			return recs, end, endOfLog(err)
		}
		n := binary.LittleEndian.Uint32(head[:4])
		if n < 10 || n > intakeMaxRec {
			return recs, end, nil
		}
		// The record and its padding; the padding may be missing at the
		// very end of a file.
		body := make([]byte, align8(int64(n)+intakeRecHead)-intakeRecHead)
		if got, err := io.ReadFull(br, body); got < int(n) {
			return recs, end, endOfLog(err)
		}
		body = body[:n]
		if crc32.Checksum(body, castagnoli) != binary.LittleEndian.Uint32(head[4:]) || binary.LittleEndian.Uint64(body) != gen {
			return recs, end, nil
		}
		rec, ok := decodeIntakeRec(body[8:])
		if !ok {
			return nil, 0, fmt.Errorf("record at %d passes its checksum but cannot be read", intakeHeader+end)
		}
		recs = append(recs, rec)
		end += align8(int64(n) + intakeRecHead)
	}
}

// endOfLog is nil for the end of the file, which ends the log, and err
// for a failure to read it, which must not be taken for its end: recovery
// would then reset the log and lose what lies beyond.
func endOfLog(err error) error {
	if err == nil || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return nil
	}
	return err
}

// decodeIntakeRec reads a record's kind, key and value.
func decodeIntakeRec(b []byte) (intakeRec, bool) {
	if len(b) < 2 || (b[0] != intakeEvent && b[0] != intakeReplay) {
		return intakeRec{}, false
	}
	kl, n := binary.Uvarint(b[1:])
	if n <= 0 || kl == 0 || kl > uint64(len(b)-1-n) {
		return intakeRec{}, false
	}
	key := b[1+n : 1+n+int(kl)]
	return intakeRec{kind: b[0], key: key, val: b[1+n+int(kl):]}, true
}

// appendIntakeRec appends one record of generation gen to dst, padded.
func appendIntakeRec(dst []byte, gen uint64, kind byte, key, val []byte) []byte {
	start := len(dst)
	dst = append(dst, make([]byte, intakeRecHead)...)
	dst = binary.LittleEndian.AppendUint64(dst, gen)
	dst = append(dst, kind)
	dst = binary.AppendUvarint(dst, uint64(len(key)))
	dst = append(dst, key...)
	dst = append(dst, val...)
	body := dst[start+intakeRecHead:]
	binary.LittleEndian.PutUint32(dst[start:], uint32(len(body)))
	binary.LittleEndian.PutUint32(dst[start+4:], crc32.Checksum(body, castagnoli))
	for int64(len(dst)-start) < align8(int64(len(dst)-start)) {
		dst = append(dst, 0)
	}
	return dst
}

func align8(n int64) int64 { return (n + 7) &^ 7 }

// syncDir makes the removal of an entry of dir durable. Where a directory
// cannot be synced (not Linux), it is best effort: the log is drained
// already, and removing it again on the next open does no harm.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	_ = d.Sync()
	return nil
}
