package reports

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
)

// Queued is one message waiting for delivery: its Message-ID and its bytes
// exactly as they will be sent.
type Queued struct {
	ID  string
	EML []byte
}

// Queue holds messages until they are delivered, so that an SMTP outage
// never loses a report. The journal implements it durably; FileQueue and
// MemQueue are simple implementations.
//
// The contract:
//   - Enqueue stores the message durably before returning. Enqueuing an id
//     that is already pending or already sent is a no-op (the first bytes
//     win), so re-running a report does not send it again.
//   - Pending returns the messages not yet marked sent, oldest first.
//   - MarkSent is idempotent; marking an unknown id is not an error.
//
// Delivery is send, then MarkSent. A crash between the two sends the message
// again on the next Flush: at-least-once is what SMTP offers (a server may
// also accept a message whose acknowledgement is lost). The Message-ID is
// stable across resends, so mail clients and archives recognise the copy.
type Queue interface {
	Enqueue(id string, eml []byte) error
	Pending() ([]Queued, error)
	MarkSent(id string) error
}

// MemQueue is an in-memory Queue, for tests and one-shot commands where
// losing an unsent message with the process is acceptable.
type MemQueue struct {
	mu      sync.Mutex
	pending []Queued
	sent    map[string]bool
}

var _ Queue = (*MemQueue)(nil)

// Enqueue implements Queue.
func (q *MemQueue) Enqueue(id string, eml []byte) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.sent[id] {
		return nil
	}
	for _, p := range q.pending {
		if p.ID == id {
			return nil
		}
	}
	q.pending = append(q.pending, Queued{ID: id, EML: append([]byte(nil), eml...)})
	return nil
}

// Pending implements Queue.
func (q *MemQueue) Pending() ([]Queued, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return append([]Queued(nil), q.pending...), nil
}

// MarkSent implements Queue.
func (q *MemQueue) MarkSent(id string) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.sent == nil {
		q.sent = map[string]bool{}
	}
	q.sent[id] = true
	for i, p := range q.pending {
		if p.ID == id {
			q.pending = append(q.pending[:i], q.pending[i+1:]...)
			break
		}
	}
	return nil
}

// FileQueue is a Queue in a directory: pending/NAME.eml until sent, then
// sent/NAME.eml. Files are written to a temporary name, synced and renamed,
// so a crash leaves either the whole message or none of it.
type FileQueue struct {
	Dir string
	mu  sync.Mutex
}

var _ Queue = (*FileQueue)(nil)

func (q *FileQueue) path(state, id string) string {
	sum := sha256.Sum256([]byte(id))
	return filepath.Join(q.Dir, state, hex.EncodeToString(sum[:16])+".eml")
}

// Enqueue implements Queue.
func (q *FileQueue) Enqueue(id string, eml []byte) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, st := range []string{"pending", "sent"} {
		if _, err := os.Stat(q.path(st, id)); err == nil {
			return nil
		}
	}
	// The id travels in the file as a header line ahead of the message.
	data := append([]byte("X-Payrun-Queue-Id: "+id+"\r\n"), eml...)
	return writeFileAtomic(q.path("pending", id), data)
}

// Pending implements Queue.
func (q *FileQueue) Pending() ([]Queued, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	ents, err := os.ReadDir(filepath.Join(q.Dir, "pending"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	type item struct {
		Queued
		mod int64
	}
	var items []item
	for _, e := range ents {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".eml") {
			continue
		}
		info, err := e.Info()
		if err != nil {
			return nil, err
		}
		b, err := os.ReadFile(filepath.Join(q.Dir, "pending", e.Name()))
		if err != nil {
			return nil, err
		}
		line, rest, ok := strings.Cut(string(b), "\r\n")
		id, found := strings.CutPrefix(line, "X-Payrun-Queue-Id: ")
		if !ok || !found {
			return nil, fmt.Errorf("queue file %s has no id line", e.Name())
		}
		items = append(items, item{Queued{ID: id, EML: []byte(rest)}, info.ModTime().UnixNano()})
	}
	sort.SliceStable(items, func(i, j int) bool { return items[i].mod < items[j].mod })
	out := make([]Queued, len(items))
	for i, it := range items {
		out[i] = it.Queued
	}
	return out, nil
}

// MarkSent implements Queue.
func (q *FileQueue) MarkSent(id string) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	from, to := q.path("pending", id), q.path("sent", id)
	if err := os.MkdirAll(filepath.Dir(to), 0o700); err != nil {
		return err
	}
	err := os.Rename(from, to)
	if errors.Is(err, fs.ErrNotExist) {
		return nil // already sent, or never queued
	}
	return err
}

// writeFileAtomic writes data to path (its directory made if need be)
// through WriteFile.
func writeFileAtomic(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	return WriteFile(path, 0o600, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}
