package executor

// This file is the journal's writer: group commit. A writer appends its line to the batch
// being gathered. The first writer to find no write under way becomes the leader: it
// writes every line gathered so far with one write, fsyncs it when a writer of the batch
// waits for durability, wakes the writers it covered, and leads again while more lines
// arrived meanwhile.
//
// Only the entries that announce what may follow need their own fsync (mustSync): an
// intent before its call, a segment's begin and end. A step's record and a call's result
// guard nothing the executor does next (a result that is lost reads as an answer that was
// lost, which resume reconciles), so their writers return once the line is handed to the
// kernel, or to the leader whose write is under way: they survive a killed process at
// once, a crash of the machine from the next fsync on, which every later intent and the
// segment's end bring. Every fsync covers all the lines written before it.

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// mustSync reports whether e's writer waits for it to be on disk (see the file comment).
func mustSync(e Entry) bool { return e.Type != EntryStep && e.Type != EntryResult }

// journal appends entries, fsynced as mustSync says.
type journal struct {
	mu   sync.Mutex
	cond *sync.Cond
	f    *os.File
	path string

	batch   []byte // lines gathered for the next write
	spare   []byte // the buffer of the last batch written, for the next one
	batchN  uint64 // sequence number of the batch being gathered
	syncedN uint64 // the last batch written (or failed: errs)
	syncing bool   // a leader is writing
	durable bool   // a line of the batch being gathered must be fsynced
	// unsynced says lines were written since the last fsync.
	unsynced bool
	errs     map[uint64]error // a failed batch's error, until its writers took it
	waiting  map[uint64]int   // writers of a batch still to return
	failed   error            // the first failed write or fsync: later writes report it
	// syncs, writes and lines count fsyncs, writes and entries (benchmarks, tests).
	syncs, writes, lines int
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

// write appends e. It returns once e is on disk when mustSync(e), else once its line is
// written or being written by the leader (or the write or fsync of its batch failed).
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
	if j.failed != nil {
		return j.failed
	}
	j.batch = append(append(j.batch, b...), '\n')
	mine := j.batchN
	if !mustSync(e) {
		if !j.syncing {
			j.flush()
		}
		return j.failed
	}
	j.durable = true
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

// flush writes the gathered batch as the leader, fsynced when one of its lines must be
// (j.mu held; released during the I/O, so that other writers gather the next batch
// meanwhile). It leads on while the next batch holds only lines that need no fsync, which
// no waiting writer would write.
func (j *journal) flush() {
	for {
		data, n, sync := j.batch, j.batchN, j.durable
		j.batch, j.spare, j.batchN, j.syncing, j.durable = j.spare[:0], nil, n+1, true, false
		j.mu.Unlock()
		var err error
		if _, werr := j.f.Write(data); werr != nil {
			err = fmt.Errorf("journal: write %s: %w", j.path, werr)
		} else if sync {
			if serr := j.f.Sync(); serr != nil {
				err = fmt.Errorf("journal: fsync %s: %w", j.path, serr)
			}
		}
		j.mu.Lock()
		j.writes++
		j.unsynced = !sync
		if sync {
			j.syncs++
		}
		j.lines += bytes.Count(data, []byte{'\n'})
		if err != nil {
			j.errs[n] = err
			if j.failed == nil {
				j.failed = err
			}
		}
		j.syncedN, j.syncing, j.spare = n, false, data[:0]
		j.cond.Broadcast()
		if len(j.batch) == 0 || j.durable || j.failed != nil {
			return // a waiting writer leads the next batch, or nothing is left
		}
	}
}

// close writes what is left and fsyncs what was written without.
func (j *journal) close() error {
	j.mu.Lock()
	for j.syncing {
		j.cond.Wait()
	}
	if len(j.batch) > 0 && j.failed == nil {
		j.durable = true
		j.flush()
	} else if j.unsynced && j.failed == nil {
		j.f.Sync()
		j.syncs++
		j.unsynced = false
	}
	j.mu.Unlock()
	return j.f.Close()
}
