package bench

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/payrun/payrun/providers"
)

// webhookFloor is the least a durable acknowledgement needs, a second
// reading beside the baseline: each callback verified with ParseWebhook,
// then its body appended to a log file zero-filled beforehand (not timed)
// and made durable by one data sync for every group of appends waiting,
// and nothing else: no dedupe, no replay check, no queue, nothing applied,
// no format to recover from. A receiver that syncs before acknowledging
// cannot cost less than this on the same disk, so the floor's own ratio to
// the baseline is what the disk alone adds, and ours beyond the floor is
// the journal's.
func webhookFloor(dir string, prov providers.Provider, hooks []webhook, at time.Time, width int) (Side, error) {
	size := 0
	for _, h := range hooks {
		size += len(h.body)
	}
	l, err := openFloorLog(filepath.Join(dir, "floor.log"), size)
	if err != nil {
		return Side{}, err
	}
	defer l.close()
	runtime.GC()
	start, cpu := time.Now(), cpuTime()
	err = each(len(hooks), width, func(i int) error {
		res, err := prov.ParseWebhook(providers.WebhookRequest{Header: hooks[i].header, Body: hooks[i].body, Received: at})
		if err == nil && len(res.Events) != 1 {
			err = fmt.Errorf("webhook %d: %d events", i, len(res.Events))
		}
		if err != nil {
			return err
		}
		return l.append(hooks[i].body)
	})
	if err != nil {
		return Side{}, err
	}
	return Side{Elapsed: time.Since(start), Items: len(hooks), CPU: cpuTime() - cpu}, nil
}

// floorLog is webhookFloor's log: one goroutine takes every append
// waiting, writes them with one pwrite and syncs once.
type floorLog struct {
	f    *os.File
	reqs chan floorAppend
	done chan struct{}
}

type floorAppend struct {
	body []byte
	err  chan error
}

// openFloorLog creates path holding size zero bytes, synced, so that the
// timed appends overwrite allocated blocks (as bbolt's pages mostly do)
// instead of growing the file.
func openFloorLog(path string, size int) (*floorLog, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, err
	}
	zeros := make([]byte, 1<<20)
	for off := 0; off < size; off += len(zeros) {
		if _, err := f.Write(zeros); err != nil {
			f.Close()
			return nil, err
		}
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, err
	}
	l := &floorLog{f: f, reqs: make(chan floorAppend), done: make(chan struct{})}
	go l.loop()
	return l, nil
}

func (l *floorLog) append(body []byte) error {
	a := floorAppend{body: body, err: make(chan error, 1)}
	l.reqs <- a
	return <-a.err
}

func (l *floorLog) close() {
	close(l.reqs)
	<-l.done
	l.f.Close()
}

// The log groups appends as the journal's committer does (batch's
// lingerFull, lingerGap and lingerMax): every append waiting, then, while
// the group holds fewer than 64, those that keep coming 1 ms apart, for at
// most 3 ms. Taking only what is waiting made groups of ~22 and more syncs
// than the journal's.
const (
	floorFull = 64
	floorGap  = time.Millisecond
	floorMax  = 3 * time.Millisecond
)

func (l *floorLog) loop() {
	defer close(l.done)
	var off int64
	var buf []byte
	group := make([]floorAppend, 0, 1000)
	for a := range l.reqs {
		group = l.gather(append(group[:0], a))
		buf = buf[:0]
		for _, a := range group {
			buf = append(buf, a.body...)
		}
		_, err := l.f.WriteAt(buf, off)
		if err == nil {
			err = datasync(l.f)
		}
		off += int64(len(buf))
		for _, a := range group {
			a.err <- err
		}
	}
}

// gather adds to group every append waiting and, while group holds fewer
// than floorFull, those that keep coming.
func (l *floorLog) gather(group []floorAppend) []floorAppend {
	deadline := time.Now().Add(floorMax)
	t := time.NewTimer(floorGap)
	defer t.Stop()
	for len(group) < cap(group) {
		if len(group) >= floorFull {
			select {
			case a, ok := <-l.reqs:
				if !ok {
					return group
				}
				group = append(group, a)
				continue
			default:
				return group
			}
		}
		select {
		case a, ok := <-l.reqs:
			if !ok {
				return group
			}
			group = append(group, a)
			t.Reset(min(floorGap, time.Until(deadline)))
		case <-t.C:
			return group
		}
	}
	return group
}
