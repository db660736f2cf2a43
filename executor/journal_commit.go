package executor

// This file is the journal's writer: group commit. A writer appends its line to the batch
// being gathered and waits until a sync covers it. The first writer to find no sync under
// way becomes the leader: it writes every line gathered so far with one write and one fsync,
// wakes the writers it covered, and leads again while more lines arrived meanwhile. Each
// write still returns only once its entry is on disk (an intent before its call), but the
// transitions ready at one moment share one fsync.

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// journal appends fsynced entries.
type journal struct {
	mu   sync.Mutex
	cond *sync.Cond
	f    *os.File
	path string

	batch   []byte // lines gathered for the next sync
	spare   []byte // the buffer of the last batch written, for the next one
	batchN  uint64 // sequence number of the batch being gathered
	syncedN uint64 // the last batch written (or failed: errs)
	syncing bool
	errs    map[uint64]error // a failed batch's error, until its writers took it
	waiting map[uint64]int   // writers of a batch still to return
	// syncs and lines count fsyncs and entries (benchmarks).
	syncs, lines int
}

// entryBufs are the writers' buffers for encoding an entry.
var entryBufs = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

func openJournal(dir string) (*journal, error) {
	path := filepath.Join(dir, JournalFile)
	if err := endLastLine(path); err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	// Make the file's directory entry durable too.
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	j := &journal{f: f, path: path, batchN: 1, errs: map[uint64]error{}, waiting: map[uint64]int{}}
	j.cond = sync.NewCond(&j.mu)
	return j, nil
}

// write appends e and returns once it is on disk (or the write or fsync of its batch
// failed).
func (j *journal) write(e Entry) error {
	if e.Time.IsZero() {
		e.Time = time.Now().UTC()
	}
	buf := entryBufs.Get().(*[]byte)
	defer entryBufs.Put(buf)
	b, err := appendEntry((*buf)[:0], e)
	if err != nil {
		return fmt.Errorf("journal: encode %s entry: %w", e.Type, err)
	}
	*buf = b
	j.mu.Lock()
	defer j.mu.Unlock()
	j.batch = append(append(j.batch, b...), '\n')
	mine := j.batchN
	j.waiting[mine]++
	for j.syncedN < mine {
		if !j.syncing {
			j.flush()
			continue
		}
		j.cond.Wait()
	}
	err = j.errs[mine]
	if j.waiting[mine]--; j.waiting[mine] == 0 {
		delete(j.waiting, mine)
		delete(j.errs, mine)
	}
	return err
}

// flush writes and syncs the gathered batch as the leader (j.mu held; released during the
// I/O, so that other writers gather the next batch meanwhile).
func (j *journal) flush() {
	data, n := j.batch, j.batchN
	j.batch, j.spare, j.batchN, j.syncing = j.spare[:0], nil, n+1, true
	j.mu.Unlock()
	var err error
	if _, werr := j.f.Write(data); werr != nil {
		err = fmt.Errorf("journal: write %s: %w", j.path, werr)
	} else if serr := j.f.Sync(); serr != nil {
		err = fmt.Errorf("journal: fsync %s: %w", j.path, serr)
	}
	j.mu.Lock()
	j.syncs++
	j.lines += bytes.Count(data, []byte{'\n'})
	if err != nil {
		j.errs[n] = err
	}
	j.syncedN, j.syncing, j.spare = n, false, data[:0]
	j.cond.Broadcast()
}

func (j *journal) close() error { return j.f.Close() }
