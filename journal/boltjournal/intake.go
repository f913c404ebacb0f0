package batch

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"

	bolt "go.etcd.io/bbolt"
)

// The intake log is where the webhook receiver's events become durable
// before they are acknowledged: a file beside the journal (its path plus
// intakeSuffix) that Persist appends each group of deliveries to, with one
// pwrite and one data sync. The Applier moves its records into the
// journal's buckets (events and queue) in the transactions that apply
// them, hundreds at a time, so the acknowledgement pays for one sync of a
// few contiguous pages instead of a bbolt commit's two syncs of its
// scattered pages. Opening the journal for writing moves whatever a crash
// left in the log; closing it moves the rest. Until a record is moved, the
// log is its only copy: the replay and duplicate checks of later
// deliveries look at both (intakeLog.index, then the events bucket).
//
// Layout: two 4 KB header slots (magic, generation, checksum; the valid one
// of the higher generation is current, so a torn header write leaves the
// other), then records from intakeHeader on, each 8-byte aligned:
//
//	length u32 | crc32c u32 | generation u64 | kind byte | key (uvarint length, bytes) | value
//
// where length and crc32c cover what follows them. Reading stops at the
// first record that is cut short, fails its checksum or belongs to
// another generation: a write a crash cut short was never acknowledged,
// and an older generation's records were all moved before the log was
// reset (intakeLog.reset), which starts a new generation at the top of the
// same file (zero-filled once, reused, so that a data sync flushes data
// only, not the file's size). Opening and closing the journal start a new
// generation too (recoverIntake), so what lies past where reading stopped
// is never read later.
const (
	intakeSuffix  = "-intake"
	intakeSlot    = 4096
	intakeHeader  = 2 * intakeSlot
	intakeGrow    = 1 << 20
	intakeMaxRec  = 16 << 20
	intakeRecHead = 8
	// intakeMax is the size at which the log is reset, moving what it
	// holds into the journal first if the Applier has not yet (a storm that
	// never pauses): ~120,000 TeemoPay callbacks, held in memory too until
	// they are moved.
	intakeMax = 64 << 20
	// intakeIdleReset resets a log that has grown past it once everything
	// in it is moved, so that the log stays small between storms.
	intakeIdleReset = 4 << 20
)

var (
	intakeMagic = [8]byte{'p', 'a', 'y', 'r', 'u', 'n', 'I', 'L'}
	castagnoli  = crc32.MakeTable(crc32.Castagnoli)
)

// ErrIntake is returned when the intake log cannot be read or written; a
// failed write or sync stops it until the journal is opened again (what
// reached the disk is then recovered, and a delivery that was refused is
// sent again by its provider).
var ErrIntake = errors.New("webhook intake log")

// An intake record is one of two kinds.
const (
	// intakeEvent is a new event: its key in the events bucket and its
	// record (journal_event_record.go).
	intakeEvent byte = 'E'
	// intakeReplay is the replay key of a later delivery of an event
	// logged or stored before, to be kept with it (keepReplayKeys).
	intakeReplay byte = 'R'
)

// intakeRec is a record of the log that is durable and not yet moved.
type intakeRec struct {
	seq  uint64
	kind byte
	key  []byte
	val  []byte
}

// intakeEntry is what the log holds about one event not yet moved: the
// last record about it and the replay keys it logged.
type intakeEntry struct {
	last uint64
	keys []string
}

// intakeLog is the open log. Its writer goroutine (loop) owns the file
// position; mu guards what is shared with the moves.
type intakeLog struct {
	f      *os.File
	db     *bolt.DB
	noSync bool
	// max and idle are intakeMax and intakeIdleReset (smaller in tests).
	max, idle int64
	// flush moves every durable record into the journal (Journal.flushIntake).
	flush func() error

	gen       uint64
	off, size int64
	seq       uint64

	reqs    chan *intakeReq
	closing chan struct{}
	stopped chan struct{}

	mu      sync.Mutex
	pending []intakeRec
	index   map[string]*intakeEntry
	failed  error

	// moveMu makes moves one at a time, from snapshot to moved.
	moveMu sync.Mutex
}

// intakeReq is one Persist waiting for its group; err is its own
// failure (the rest of its group goes on).
type intakeReq struct {
	r       *Receipt
	records [][]byte
	replay  bool
	fresh   int
	err     error
	done    chan error
}

// openIntake opens (creating it if needed) the log at path and reads the
// records of its current generation. It does not start the writer.
func openIntake(path string, db *bolt.DB, noSync bool) (*intakeLog, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrIntake, err)
	}
	l := &intakeLog{f: f, db: db, noSync: noSync, max: intakeMax, idle: intakeIdleReset, index: map[string]*intakeEntry{},
		reqs: make(chan *intakeReq), closing: make(chan struct{}), stopped: make(chan struct{})}
	if err := l.load(path); err != nil {
		f.Close()
		return nil, err
	}
	return l, nil
}

// load reads the headers and the current generation's records, or writes
// the first header into a new file.
func (l *intakeLog) load(path string) error {
	st, err := l.f.Stat()
	if err != nil {
		return fmt.Errorf("%w: %v", ErrIntake, err)
	}
	l.size = st.Size()
	gen, ok := intakeGen(l.f)
	switch {
	case !ok && l.size <= intakeHeader:
		// New, or a crash cut its creation short: nothing was logged in it.
		l.gen, l.off = 0, intakeHeader
		if err := l.writeHeader(1); err != nil {
			return err
		}
		return syncDir(filepath.Dir(path))
	case !ok:
		return fmt.Errorf("%w: %s: neither header is valid (not a payrun intake log, or damaged)", ErrIntake, path)
	}
	l.gen, l.off = gen, intakeHeader
	if l.size <= intakeHeader {
		return nil
	}
	recs, end, err := scanIntake(io.NewSectionReader(l.f, intakeHeader, l.size-intakeHeader), l.gen)
	if err != nil {
		return fmt.Errorf("%w: %s: %v", ErrIntake, path, err)
	}
	l.off = intakeHeader + end
	for _, r := range recs {
		keys, err := recordKeys(r)
		if err != nil {
			return fmt.Errorf("%w: %s: record %d: %v", ErrIntake, path, l.seq+1, err)
		}
		l.seq++
		r.seq = l.seq
		l.pending = append(l.pending, r)
		l.note(r, keys...)
	}
	return nil
}

// note records r, which brings the replay keys keys, in the index.
func (l *intakeLog) note(r intakeRec, keys ...string) {
	e := l.index[string(r.key)]
	if e == nil {
		e = &intakeEntry{}
		l.index[string(r.key)] = e
	}
	e.last = r.seq
	e.keys = append(e.keys, keys...)
}

// recordKeys returns the replay keys a record brings.
func recordKeys(r intakeRec) ([]string, error) {
	if r.kind == intakeReplay {
		return []string{string(r.val)}, nil
	}
	ev, _, err := readEventRecord(r.key, r.val, false)
	return ev.ReplayKeys, err
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

// writeHeader makes gen the current generation: its slot is written and
// synced; the other slot keeps the previous one until then.
func (l *intakeLog) writeHeader(gen uint64) error {
	b := make([]byte, intakeSlot)
	copy(b, intakeMagic[:])
	binary.LittleEndian.PutUint64(b[8:], gen)
	binary.LittleEndian.PutUint32(b[16:], crc32.Checksum(b[:16], castagnoli))
	if _, err := l.f.WriteAt(b, int64(gen%2)*intakeSlot); err != nil {
		return fmt.Errorf("%w: header: %v", ErrIntake, err)
	}
	if l.size < intakeHeader {
		l.size = intakeHeader
	}
	if err := l.sync(); err != nil {
		return err
	}
	l.gen = gen
	return nil
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

// persist runs r through the log's next group and returns once its
// records are durable.
func (l *intakeLog) persist(r *Receipt, records [][]byte) (replay bool, fresh int, err error) {
	q := &intakeReq{r: r, records: records, done: make(chan error, 1)}
	select {
	case l.reqs <- q:
	case <-l.closing:
		return false, 0, ErrClosed
	}
	if err := <-q.done; err != nil {
		return false, 0, err
	}
	return q.replay, q.fresh, nil
}

// start runs the writer.
func (l *intakeLog) start() { go l.loop() }

// stop stops the writer after the group in progress.
func (l *intakeLog) stop() {
	close(l.closing)
	<-l.stopped
}

func (l *intakeLog) loop() {
	defer close(l.stopped)
	group := make([]*intakeReq, 0, maxGroup)
	for {
		select {
		case <-l.closing:
			return
		case q := <-l.reqs:
			group = gather(l.reqs, append(group[:0], q))
		}
		err := l.write(group)
		for _, q := range group {
			q.done <- cmp.Or(err, q.err)
		}
	}
}

// write judges group against what the log and the journal hold, appends
// its records and syncs them.
func (l *intakeLog) write(group []*intakeReq) error {
	if err := l.broken(); err != nil {
		return err
	}
	if err := l.roomFor(); err != nil {
		return err
	}
	var recs []intakeRec
	l.mu.Lock()
	err := l.db.View(func(tx *bolt.Tx) error {
		stored := tx.Bucket(bktEvents)
		for _, q := range group {
			l.judge(stored, q, &recs)
		}
		return nil
	})
	l.mu.Unlock()
	if err != nil {
		return err
	}
	if len(recs) == 0 {
		return nil
	}
	// The records are encoded from the pooled buffers Persist filled into
	// keep, which is written and stays in memory until they are moved:
	// each record's key and value are repointed into it, once keep has
	// stopped growing.
	var keep []byte
	starts := make([]int, len(recs))
	for i, r := range recs {
		starts[i] = len(keep)
		keep = appendIntakeRec(keep, l.gen, r.kind, r.key, r.val)
	}
	for i := range recs {
		var n [binary.MaxVarintLen64]byte
		k := starts[i] + intakeRecHead + 8 + 1 + len(binary.AppendUvarint(n[:0], uint64(len(recs[i].key))))
		v := k + len(recs[i].key)
		end := v + len(recs[i].val)
		recs[i].key, recs[i].val = keep[k:v:v], keep[v:end:end]
	}
	if err := l.grow(l.off + int64(len(keep))); err != nil {
		return l.fail(err)
	}
	if _, err := l.f.WriteAt(keep, l.off); err != nil {
		return l.fail(fmt.Errorf("%w: %v", ErrIntake, err))
	}
	if err := l.sync(); err != nil {
		return l.fail(err)
	}
	l.off += int64(len(keep))
	l.mu.Lock()
	l.pending = append(l.pending, recs...)
	l.mu.Unlock()
	return nil
}

// judge decides what q's events need in the log, appending their records
// to recs and noting them in the index: a replay (its replay key seen
// with its first event) needs nothing and sets q.replay; an event logged
// or stored before needs its new replay key, if any; a new one needs its
// record. It decides for every event before it notes any, so a request it
// refuses (q.err: a record too large for the log, a stored event it
// cannot read) leaves nothing behind. mu is held.
func (l *intakeLog) judge(stored *bolt.Bucket, q *intakeReq, recs *[]intakeRec) {
	q.replay, q.fresh, q.err = false, 0, nil
	type want struct {
		kind     byte
		key, val []byte
		rk       string
	}
	var wants []want
	for i, ev := range q.r.Events {
		k := refKey(ev.Provider, ev.ID)
		if n := len(q.records[i]) + len(k) + 32; n > intakeMaxRec {
			q.err = fmt.Errorf("%w: event %s %s takes %d bytes, more than a record may (%d)", ErrIntake, ev.Provider, ev.ID, n, intakeMaxRec)
			return
		}
		// Only the first event carries the replay key (Receipt.key).
		rk := q.r.key(i)
		e, raw := l.index[string(k)], stored.Get(k)
		again := slices.ContainsFunc(wants, func(w want) bool { return bytes.Equal(w.key, k) })
		if e == nil && raw == nil && !again {
			wants = append(wants, want{intakeEvent, k, q.records[i], rk})
			continue
		}
		if rk == "" {
			continue
		}
		seen := e != nil && slices.Contains(e.keys, rk)
		if !seen && raw != nil {
			old, _, err := readEventRecord(k, raw, false)
			if err != nil {
				q.err = fmt.Errorf("stored event %s %s: %w", ev.Provider, ev.ID, err)
				return
			}
			seen = slices.Contains(old.ReplayKeys, rk)
		}
		if seen {
			// The replay key goes with the first event, so nothing of
			// the receipt is logged.
			q.replay = true
			return
		}
		wants = append(wants, want{intakeReplay, k, []byte(rk), rk})
	}
	for _, w := range wants {
		var keys []string
		if w.rk != "" {
			keys = []string{w.rk}
		}
		l.add(recs, w.kind, w.key, w.val, keys...)
		if w.kind == intakeEvent {
			q.fresh++
		}
	}
}

// add appends a record to recs under the next sequence number and notes
// it in the index at once, so that a later delivery of the same group
// sees it.
func (l *intakeLog) add(recs *[]intakeRec, kind byte, key, val []byte, keys ...string) {
	l.seq++
	r := intakeRec{seq: l.seq, kind: kind, key: key, val: val}
	*recs = append(*recs, r)
	l.note(r, keys...)
}

// grow zero-fills the file up to end (rounded up to intakeGrow), so that
// appends overwrite allocated blocks.
func (l *intakeLog) grow(end int64) error {
	if end <= l.size {
		return nil
	}
	to := (end + intakeGrow - 1) / intakeGrow * intakeGrow
	zeros := make([]byte, min(to-l.size, intakeGrow))
	for l.size < to {
		n := min(int64(len(zeros)), to-l.size)
		if _, err := l.f.WriteAt(zeros[:n], l.size); err != nil {
			return fmt.Errorf("%w: %v", ErrIntake, err)
		}
		l.size += n
	}
	return nil
}

// roomFor resets the log when it has grown past its limit, moving what
// it holds into the journal first, or past intakeIdleReset with nothing
// left to move.
func (l *intakeLog) roomFor() error {
	if l.off <= l.idle {
		return nil
	}
	if l.off > l.max {
		// A journal that cannot take the records now refuses this
		// group; the next one tries again.
		if err := l.flush(); err != nil {
			return err
		}
	}
	l.mu.Lock()
	empty := len(l.pending) == 0
	l.mu.Unlock()
	if !empty {
		return nil
	}
	if err := l.reset(); err != nil {
		return l.fail(err)
	}
	return nil
}

// reset starts a new generation at the top of the file; every record of
// the current one must have been moved.
func (l *intakeLog) reset() error {
	if err := l.writeHeader(l.gen + 1); err != nil {
		return err
	}
	l.off = intakeHeader
	return nil
}

// sync makes what was written durable.
func (l *intakeLog) sync() error {
	if l.noSync {
		return nil
	}
	if err := datasync(l.f); err != nil {
		return fmt.Errorf("%w: sync: %v", ErrIntake, err)
	}
	return nil
}

// fail stops the log at its first write error: what a failed sync left on
// the disk is unknown, so nothing more is appended after it; opening the
// journal again recovers what is there.
func (l *intakeLog) fail(err error) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.failed == nil {
		l.failed = err
	}
	return err
}

func (l *intakeLog) broken() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.failed != nil {
		return fmt.Errorf("%w stopped after an earlier failure (reopen the journal): %w", ErrIntake, l.failed)
	}
	return nil
}

// snapshot returns the oldest durable records not yet moved, at most
// moveChunk of them.
func (l *intakeLog) snapshot() []intakeRec {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := min(len(l.pending), moveChunk)
	return l.pending[:n:n]
}

// moved forgets the records up to seq, once the transaction that moved
// them is committed.
func (l *intakeLog) moved(seq uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for n < len(l.pending) && l.pending[n].seq <= seq {
		if e := l.index[string(l.pending[n].key)]; e != nil && e.last <= seq {
			delete(l.index, string(l.pending[n].key))
		}
		n++
	}
	l.pending = slices.Delete(l.pending, 0, n)
}

// lastSeq returns the sequence of the last record waiting to be moved (0
// when none is).
func (l *intakeLog) lastSeq() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.pending) == 0 {
		return 0
	}
	return l.pending[len(l.pending)-1].seq
}

// through returns how many records up to sequence until wait to be moved.
func (l *intakeLog) through(until uint64) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n, _ := slices.BinarySearchFunc(l.pending, until+1, func(r intakeRec, seq uint64) int { return cmp.Compare(r.seq, seq) })
	return n
}

// events returns how many new events wait to be moved.
func (l *intakeLog) events() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, r := range l.pending {
		if r.kind == intakeEvent {
			n++
		}
	}
	return n
}

// queued returns how many records wait to be moved.
func (l *intakeLog) queued() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.pending)
}

// moveChunk bounds the records one transaction moves (~2 MB of TeemoPay
// callbacks): a storm's 20,000 moved in one transaction held ~50 MB more
// at its peak than the same storm stored group by group.
const moveChunk = 4096

// moveIntake moves the oldest durable records of the intake log, up to
// moveChunk, into tx's buckets, in the order they were logged, as Persist used to store them:
// a new event is stored and queued; an event the journal already holds
// (logged again by a delivery that raced its move, or moved before a
// crash) only keeps its replay keys; a replay key is kept with its event.
// It returns the last sequence moved, for intakeLog.moved after the commit.
func (j *Journal) moveIntake(tx *bolt.Tx) (uint64, error) {
	recs := j.in.snapshot()
	if len(recs) == 0 {
		return 0, nil
	}
	stored, queue := tx.Bucket(bktEvents), tx.Bucket(bktQueue)
	for _, r := range recs {
		raw := stored.Get(r.key)
		switch {
		case r.kind == intakeEvent && raw == nil:
			seq, err := queue.NextSequence()
			if err != nil {
				return 0, err
			}
			if err := stored.Put(r.key, r.val); err != nil {
				return 0, err
			}
			if err := queue.Put(u64(seq), r.key); err != nil {
				return 0, err
			}
		case raw == nil:
			return 0, fmt.Errorf("%w: replay key for event %q, which is neither logged nor stored", ErrIntake, r.key)
		default:
			keys, err := recordKeys(r)
			if err != nil {
				return 0, err
			}
			if err := keepReplayKeys(stored, r.key, raw, keys...); err != nil {
				return 0, err
			}
		}
	}
	return recs[len(recs)-1].seq, nil
}

// flushIntake moves every record the intake log holds when it is called
// into the journal, in transactions of their own (before Event, Events
// and MarkEventFact read the events bucket, when the log is full, and when
// the journal is opened or closed).
func (j *Journal) flushIntake() error {
	if j.in == nil || j.in.queued() == 0 {
		return nil
	}
	j.in.moveMu.Lock()
	defer j.in.moveMu.Unlock()
	return j.moveChunks(j.in.lastSeq(), 0)
}

// moveChunks moves records of the intake log into the journal, one chunk
// a transaction, until at most leave of those up to sequence until are
// left (records logged meanwhile are left to the next call, so that a
// storm that never pauses cannot keep it going); moveMu is held.
func (j *Journal) moveChunks(until uint64, leave int) error {
	for j.in.through(until) > leave {
		var last uint64
		err := j.update(func(tx *bolt.Tx) error {
			var err error
			last, err = j.moveIntake(tx)
			return err
		})
		if err != nil {
			return err
		}
		if last == 0 {
			return nil
		}
		j.in.moved(last)
	}
	return nil
}

// recoverIntake moves every record of the intake log into the journal and
// starts a new generation (opening and closing the journal; the writer is
// stopped). The new generation is started even when nothing was read:
// records of the current one may lie beyond where reading stopped (a torn
// group whose later pages reached the disk before its first, a write
// whose sync failed), and the next records written over the top must not
// lead a later recovery into them.
func (j *Journal) recoverIntake() error {
	if err := j.flushIntake(); err != nil {
		return err
	}
	if j.in.size <= intakeHeader {
		return nil
	}
	return j.in.reset()
}

// intakeLeft refuses a read-only open of a journal whose intake log holds
// events not yet moved into it: a reader would not see them.
func intakeLeft(path string) error {
	n, err := intakeRecords(path)
	if err != nil {
		return err
	}
	if n > 0 {
		return fmt.Errorf("%w at %s holds %d webhook records not yet moved into the journal (the process that wrote them stopped without closing it); open the journal for writing once (any payrun command does), then read it", ErrIntake, path, n)
	}
	return nil
}

// intakeRecords counts the records of the current generation of the
// intake log at path, without changing it (a read-only open).
func intakeRecords(path string) (int, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	defer f.Close()
	if _, ok := intakeGen(f); !ok {
		st, err := f.Stat()
		if err != nil {
			return 0, err
		}
		if st.Size() > intakeHeader {
			return 0, fmt.Errorf("%w: %s: neither header is valid (not a payrun intake log, or damaged)", ErrIntake, path)
		}
		return 0, nil
	}
	l := &intakeLog{f: f, index: map[string]*intakeEntry{}}
	if err := l.load(path); err != nil {
		return 0, err
	}
	return len(l.pending), nil
}
