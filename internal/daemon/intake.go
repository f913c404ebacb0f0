package daemon

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"
	"github.com/payrun/payrun/internal/pan"
	"github.com/payrun/payrun/internal/service"
)

// Result is what became of a payout file handed to Intake.Handle.
type Result string

// Results of Intake.Handle.
const (
	// Accepted: the file is a batch; it stays in processing/ until its batch
	// is done (Outcome.Done, Intake.BatchDone or Intake.ArchiveDone), then
	// goes to archive/YYYY-MM-DD/.
	Accepted Result = "accepted"
	// Rejected: the file was refused (invalid rows); it goes to rejected/
	// with NAME.errors.txt beside it.
	Rejected Result = "rejected"
	// Duplicate: the same content was processed before; it goes to
	// rejected/ with that reason and nothing is sent.
	Duplicate Result = "duplicate"
)

// Outcome is Handle's verdict on one file.
type Outcome struct {
	Result Result
	// BatchID is the batch the file became (Accepted) or matches
	// (Duplicate).
	BatchID string
	// Reason is one line for operators (Rejected, Duplicate).
	Reason string
	// Report is the row-by-row error report (text or CSV) written beside a
	// rejected file as NAME.errors.txt, after a short header.
	Report []byte
	// Done archives an accepted file at once (its batch is already final,
	// or the deployment archives on acceptance).
	Done bool
}

// Intake takes payout files from a folder once they are complete, hands them
// to Handle, and files them away: inbox/ -> processing/ -> archive/DATE/ or
// rejected/.
//
// A file is complete when its size and modification time have not changed
// for StableFor across scans (observations are kept between scans, by the
// Now clock), or, with ReadyMarker, when NAME.ready exists beside it.
// Temporary and hidden files are never taken. Names are used only as single
// path elements inside the configured folders; nothing a name contains can
// move a file elsewhere.
type Intake struct {
	Inbox, Processing, Archive, Rejected string
	// StableFor is how long size and mtime must stay unchanged (0: take a
	// file at first sight).
	StableFor time.Duration
	// ReadyMarker takes a file only when NAME.ready exists (then StableFor
	// does not apply); the marker is removed once the file is handled.
	ReadyMarker bool
	// ScanInterval is the fallback scan period of the loop Start runs (default 30 s), for
	// file systems where fsnotify says nothing (NFS, SMB).
	ScanInterval time.Duration
	// Location is the zone of the archive's date folders (nil: UTC).
	Location *time.Location
	Now      func() time.Time
	Log      *slog.Logger
	// Handle turns a file (its path in processing/) into an outcome. An
	// error leaves the verdict open: the file goes back to inbox/ and is
	// taken again later. Handle must be idempotent: a file that a stop left
	// in processing/ is handed to it again by Recover, with a context for
	// which Resumed is true; its content is then its own batch resumed, not
	// a duplicate.
	Handle func(ctx context.Context, path string) (Outcome, error)
	// BatchDone, when set, is asked on each scan whether the batch of a file
	// waiting in processing/ is done; a done batch's file is archived.
	BatchDone func(batchID string) (bool, error)
	// Observe, when set, is told every outcome ("accepted", "rejected",
	// "duplicate", "error", "archived"): Metrics.IntakeFile fits.
	Observe func(outcome string)
	// Waiting, when set, is told after each scan how many files of the
	// inbox are still being written (not stable yet, or without their
	// ready marker).
	Waiting func(n int)

	mu      sync.Mutex
	seen    map[string]observation // inbox name -> last observation
	pending map[string]string      // batch id -> path in processing/
	loop    service.Loop
}

type observation struct {
	size  int64
	mtime time.Time
	since time.Time // when this size and mtime were first seen
}

// readySuffix marks a file as complete in ReadyMarker mode.
const readySuffix = ".ready"

// errorsSuffix names the report beside a rejected file.
const errorsSuffix = ".errors.txt"

// maxNameBytes is the longest file name most file systems accept.
const maxNameBytes = 255

func (in *Intake) now() time.Time {
	if in.Now != nil {
		return in.Now()
	}
	return time.Now()
}

func (in *Intake) log() *slog.Logger {
	if in.Log != nil {
		return in.Log
	}
	return slog.New(slog.DiscardHandler)
}

func (in *Intake) observe(outcome string) {
	if in.Observe != nil {
		in.Observe(outcome)
	}
}

// Ignored reports whether a name in inbox/ is never a payout file: hidden
// files, Office lock files, partial downloads and editors' temporaries, and
// the .ready markers themselves.
func Ignored(name string) bool {
	lower := strings.ToLower(name)
	if name == "" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "~") {
		return true
	}
	for _, s := range []string{".tmp", ".temp", ".part", ".partial", ".crdownload", ".download", ".swp", "~", readySuffix} {
		if strings.HasSuffix(lower, s) {
			return true
		}
	}
	return false
}

// processingName is the name a file taken from the inbox goes by from then
// on (in processing/, archive/ and rejected/, beside its report, as its
// batch's file in the journal and in every report): its own, with card
// numbers masked by '#' (a character every file system takes, where
// package pan writes '*').
func processingName(name string) string {
	return strings.ReplaceAll(pan.MaskText(name), "*", "#")
}

// safeName reports whether name is one path element that stays in its
// folder.
func safeName(name string) bool {
	return name != "" && name != "." && name != ".." && !strings.ContainsAny(name, "/\x00") &&
		filepath.Base(name) == name && !strings.ContainsRune(name, filepath.Separator)
}

// RunOnce scans inbox/ once: it records what it sees, takes every file that
// is complete, and archives files whose batches are done. It returns how
// many files it took.
func (in *Intake) RunOnce(ctx context.Context) (int, error) {
	n, _, err := in.scan(ctx)
	return n, err
}

// scan is RunOnce that also says whether a file is waiting to become
// stable (so that the loop looks again after StableFor).
func (in *Intake) scan(ctx context.Context) (taken int, waiting bool, err error) {
	if in.Handle == nil {
		return 0, false, errors.New("intake: no Handle")
	}
	entries, err := os.ReadDir(in.Inbox)
	if err != nil {
		return 0, false, fmt.Errorf("scan inbox: %w", err)
	}
	names := map[string]bool{}
	for _, e := range entries {
		names[e.Name()] = true
	}
	now := in.now()
	var errs []error
	var ready []string
	unstable := 0
	defer func() {
		if in.Waiting != nil {
			in.Waiting(unstable)
		}
	}()
	in.mu.Lock()
	if in.seen == nil {
		in.seen = map[string]observation{}
	}
	for name := range in.seen {
		if !names[name] {
			delete(in.seen, name)
		}
	}
	for _, e := range entries {
		name := e.Name()
		if Ignored(name) || !safeName(name) || !e.Type().IsRegular() {
			continue
		}
		if in.ReadyMarker {
			if names[name+readySuffix] {
				ready = append(ready, name)
			} else if !strings.HasSuffix(name, readySuffix) {
				unstable++
			}
			continue
		}
		fi, err := e.Info()
		if err != nil {
			continue // gone since ReadDir
		}
		o, ok := in.seen[name]
		if !ok || o.size != fi.Size() || !o.mtime.Equal(fi.ModTime()) {
			in.seen[name] = observation{size: fi.Size(), mtime: fi.ModTime(), since: now}
			if in.StableFor > 0 {
				waiting = true
				unstable++
				continue
			}
		} else if now.Sub(o.since) < in.StableFor {
			waiting = true
			unstable++
			continue
		}
		ready = append(ready, name)
	}
	in.mu.Unlock()
	sort.Strings(ready)
	for _, name := range ready {
		if ctx.Err() != nil {
			break
		}
		ok, err := in.take(ctx, name)
		if err != nil {
			errs = append(errs, err)
		}
		if ok {
			taken++
		}
	}
	if err := in.archiveDone(); err != nil {
		errs = append(errs, err)
	}
	return taken, waiting, errors.Join(errs...)
}

// take moves one complete file into processing/ and hands it to Handle.
func (in *Intake) take(ctx context.Context, name string) (bool, error) {
	log := in.log().With("file", name)
	src := filepath.Join(in.Inbox, name)
	dst, err := moveUnique(src, in.Processing, processingName(name))
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil // taken away meanwhile
	}
	if err != nil {
		return false, fmt.Errorf("intake %q: %w", name, err)
	}
	in.mu.Lock()
	delete(in.seen, name)
	in.mu.Unlock()
	log.Info("intake: took file", "processing", dst)
	if err := in.dispose(ctx, dst, name, log); err != nil {
		return true, err
	}
	if in.ReadyMarker {
		_ = os.Remove(filepath.Join(in.Inbox, name+readySuffix))
	}
	return true, nil
}

// dispose hands a file in processing/ to Handle and files it by the
// outcome. On an error the file goes back to inbox/ under its name there.
func (in *Intake) dispose(ctx context.Context, path, inboxName string, log *slog.Logger) error {
	out, err := in.Handle(ctx, path)
	if err == nil {
		err = in.file(path, out, log)
	}
	if err != nil {
		in.observe("error")
		log.Error("intake: file not handled; it goes back to the inbox", "err", err)
		if _, merr := moveUnique(path, in.Inbox, inboxName); merr != nil {
			return errors.Join(fmt.Errorf("handle %q: %w", inboxName, err), fmt.Errorf("return %q to inbox: %w", inboxName, merr))
		}
		return fmt.Errorf("handle %q: %w", inboxName, err)
	}
	return nil
}

// file puts a handled file where its outcome says.
func (in *Intake) file(path string, out Outcome, log *slog.Logger) error {
	switch out.Result {
	case Accepted:
		in.observe(string(Accepted))
		if out.Done {
			_, err := in.ArchiveDone(out.BatchID, path)
			return err
		}
		if out.BatchID != "" {
			in.mu.Lock()
			if in.pending == nil {
				in.pending = map[string]string{}
			}
			in.pending[out.BatchID] = path
			in.mu.Unlock()
		}
		// The hook said what became of the batch (accepted or held).
		log.Debug("intake: file kept in processing until its batch is done", "batch", out.BatchID)
		return nil
	case Rejected, Duplicate:
		in.observe(string(out.Result))
		dst, err := in.reject(path, out)
		if err != nil {
			return err
		}
		msg := "file rejected: nothing of it is recorded or sent"
		if out.Result == Duplicate {
			msg = "file is a duplicate: nothing is sent again"
		}
		log.WarnContext(event, msg, "reason", out.Reason, "batch", out.BatchID, "moved_to", dst,
			"report", filepath.Join(in.Rejected, fitName(filepath.Base(dst), errorsSuffix)))
		return nil
	}
	return fmt.Errorf("intake: Handle returned an unknown result %q", out.Result)
}

// reject moves a file to rejected/ and writes its report beside it.
func (in *Intake) reject(path string, out Outcome) (string, error) {
	name := filepath.Base(path)
	dst, err := moveUnique(path, in.Rejected, name)
	if err != nil {
		return "", fmt.Errorf("reject %q: %w", name, err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "file: %s\n", strings.ToValidUTF8(filepath.Base(dst), "?"))
	fmt.Fprintf(&b, "result: %s\n", out.Result)
	if out.BatchID != "" {
		fmt.Fprintf(&b, "batch: %s\n", out.BatchID)
	}
	fmt.Fprintf(&b, "at: %s\n", in.now().In(in.loc()).Format(time.RFC3339))
	reason := out.Reason
	if reason == "" && out.Result == Duplicate {
		reason = "the same content was processed before"
	}
	fmt.Fprintf(&b, "reason: %s\n", reason)
	if len(out.Report) > 0 {
		b.WriteString("\n")
		b.Write(out.Report)
		if out.Report[len(out.Report)-1] != '\n' {
			b.WriteString("\n")
		}
	}
	report := filepath.Join(in.Rejected, fitName(filepath.Base(dst), errorsSuffix))
	if err := os.WriteFile(report, []byte(b.String()), 0o640); err != nil {
		return dst, fmt.Errorf("write report of %q: %w", name, err)
	}
	return dst, nil
}

func (in *Intake) loc() *time.Location {
	if in.Location != nil {
		return in.Location
	}
	return time.UTC
}

// ArchiveDone moves the file of a batch that is done from processing/ to
// archive/YYYY-MM-DD/ (today in Location) and returns where it went. path
// must be a file directly in processing/ (batch.Batch.Path, as Handle
// ingested it); anything else is refused.
func (in *Intake) ArchiveDone(batchID, path string) (string, error) {
	name := filepath.Base(path)
	if !safeName(name) || filepath.Clean(filepath.Dir(path)) != filepath.Clean(in.Processing) {
		return "", fmt.Errorf("archive batch %s: %q is not a file in %s", batchID, path, in.Processing)
	}
	dir := filepath.Join(in.Archive, in.now().In(in.loc()).Format("2006-01-02"))
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return "", fmt.Errorf("archive batch %s: %w", batchID, err)
	}
	dst, err := moveUnique(path, dir, name)
	if err != nil {
		return "", fmt.Errorf("archive batch %s: %w", batchID, err)
	}
	in.mu.Lock()
	if in.pending[batchID] == path {
		delete(in.pending, batchID)
	}
	in.mu.Unlock()
	in.observe("archived")
	in.log().Info("intake: archived", "batch", batchID, "archive", dst)
	return dst, nil
}

// archiveDone archives the files of accepted batches that are now done.
func (in *Intake) archiveDone() error {
	if in.BatchDone == nil {
		return nil
	}
	in.mu.Lock()
	ids := make([]string, 0, len(in.pending))
	for id := range in.pending {
		ids = append(ids, id)
	}
	in.mu.Unlock()
	sort.Strings(ids)
	var errs []error
	for _, id := range ids {
		done, err := in.BatchDone(id)
		if err != nil {
			errs = append(errs, fmt.Errorf("batch %s: %w", id, err))
			continue
		}
		if !done {
			continue
		}
		in.mu.Lock()
		path := in.pending[id]
		in.mu.Unlock()
		if _, err := in.ArchiveDone(id, path); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

type resumedKey struct{}

// Resumed reports whether Handle was called by Recover for a file that a
// stop left in processing/ (so that a recognised content is that file's
// own batch, not a duplicate drop).
func Resumed(ctx context.Context) bool {
	v, _ := ctx.Value(resumedKey{}).(bool)
	return v
}

// Recover hands every file that a stop left in processing/ to Handle again
// and files it by the outcome. The loop Start runs calls it once, first.
func (in *Intake) Recover(ctx context.Context) (int, error) {
	if in.Handle == nil {
		return 0, errors.New("intake: no Handle")
	}
	entries, err := os.ReadDir(in.Processing)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("scan processing: %w", err)
	}
	in.mu.Lock()
	known := map[string]bool{}
	for _, p := range in.pending {
		known[p] = true
	}
	in.mu.Unlock()
	var errs []error
	n := 0
	for _, e := range entries {
		path := filepath.Join(in.Processing, e.Name())
		if !e.Type().IsRegular() || !safeName(e.Name()) || known[path] || ctx.Err() != nil {
			continue
		}
		n++
		log := in.log().With("file", e.Name())
		log.Info("intake: resuming a file left in processing")
		if err := in.dispose(context.WithValue(ctx, resumedKey{}, true), path, e.Name(), log); err != nil {
			errs = append(errs, err)
		}
	}
	return n, errors.Join(errs...)
}

// Start creates the folders, then, on its own goroutine, recovers
// processing/ and watches inbox/ with fsnotify, scanning it on every event,
// StableFor after the last change, and every ScanInterval, until ctx is
// done or Stop. A watcher that cannot start leaves the periodic scan
// (logged).
func (in *Intake) Start(ctx context.Context) error {
	for _, d := range []string{in.Inbox, in.Processing, in.Archive, in.Rejected} {
		if err := os.MkdirAll(d, 0o750); err != nil {
			return fmt.Errorf("intake: %w", err)
		}
	}
	return in.loop.Run(ctx, in.run)
}

// Stop stops watching after the file in hand is filed.
func (in *Intake) Stop() { in.loop.Halt() }

func (in *Intake) run(ctx context.Context) {
	log := in.log()
	if _, err := in.Recover(ctx); err != nil {
		log.Error("intake: recover", "err", err)
	}
	interval := in.ScanInterval
	if interval <= 0 {
		interval = 30 * time.Second
	}
	var events <-chan fsnotify.Event
	var werrs <-chan error
	w, err := fsnotify.NewWatcher()
	if err == nil {
		err = w.Add(in.Inbox)
		if err != nil {
			w.Close()
		}
	}
	if err != nil {
		log.Warn("intake: no file-system notifications; scanning periodically only", "err", err, "every", interval)
	} else {
		defer w.Close()
		events, werrs = w.Events, w.Errors
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	settle := time.NewTimer(time.Hour)
	settle.Stop()
	defer settle.Stop()
	scan := func() {
		_, waiting, err := in.scan(ctx)
		if err != nil && ctx.Err() == nil {
			log.Error("intake: scan", "err", err)
		}
		if waiting {
			// Look again once the files seen now may have become stable.
			settle.Reset(in.StableFor + in.StableFor/10 + 10*time.Millisecond)
		}
	}
	scan()
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-events:
			if !ok {
				events = nil
				continue
			}
			if ev.Op == fsnotify.Chmod {
				continue
			}
			// A file being written sends an event per chunk: scan once
			// the burst pauses.
			settle.Reset(debounce)
		case err, ok := <-werrs:
			if !ok {
				werrs = nil
				continue
			}
			log.Warn("intake: watcher", "err", err)
		case <-tick.C:
			scan()
		case <-settle.C:
			scan()
		}
	}
}

// debounce is how long the loop lets a burst of file-system events settle
// before it scans.
const debounce = 100 * time.Millisecond

// moveUnique moves src into dir under name, or under name-2, name-3...
// (before the extension) when taken, never replacing a file. It returns the
// new path.
func moveUnique(src, dir, name string) (string, error) {
	if !safeName(name) {
		return "", fmt.Errorf("unsafe file name %q", name)
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return "", err
	}
	for i := 1; i < 10000; i++ {
		cand := name
		if i > 1 {
			cand = fitName(name, "", fmt.Sprintf("-%d", i))
		} else {
			cand = fitName(name, "")
		}
		dst := filepath.Join(dir, cand)
		err := os.Link(src, dst)
		switch {
		case err == nil:
			if err := os.Remove(src); err != nil {
				_ = os.Remove(dst)
				return "", err
			}
			return dst, nil
		case errors.Is(err, fs.ErrExist):
			continue
		case errors.Is(err, fs.ErrNotExist):
			if _, serr := os.Lstat(src); errors.Is(serr, fs.ErrNotExist) {
				return "", err
			}
		}
		// No hard links here (some network and FAT file systems): check,
		// then rename. Only this process writes these folders.
		if _, serr := os.Lstat(dst); serr == nil {
			continue
		}
		if err := os.Rename(src, dst); err != nil {
			return "", err
		}
		return dst, nil
	}
	return "", fmt.Errorf("no free name for %q in %s", name, dir)
}

// fitName returns name with tag inserted before its extension and suffix
// appended, shortened (on a UTF-8 boundary) to fit maxNameBytes.
func fitName(name, suffix string, tag ...string) string {
	ext := filepath.Ext(name)
	if len(ext) > 16 {
		ext = ""
	}
	stem := strings.TrimSuffix(name, ext)
	t := strings.Join(tag, "")
	room := maxNameBytes - len(ext) - len(t) - len(suffix)
	if len(stem) > room {
		cut := room
		for cut > 0 && cut < len(stem) && !utf8Start(stem[cut]) {
			cut--
		}
		stem = stem[:cut]
	}
	return stem + t + ext + suffix
}

func utf8Start(b byte) bool { return b&0xC0 != 0x80 }
