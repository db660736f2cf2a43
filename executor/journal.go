package executor

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/upgradeplan/upgradeplan/internal/atomicfile"
	"github.com/upgradeplan/upgradeplan/internal/jsonindent"
	"github.com/upgradeplan/upgradeplan/planner"
	"github.com/upgradeplan/upgradeplan/provider"
)

// JournalFile and RecordFile are the names of the run directory's journal and record.
const (
	JournalFile = "journal.jsonl"
	RecordFile  = "run.json"
)

// Journal entry types.
const (
	EntryBegin  = "begin"  // a segment starts (first run or resume)
	EntryIntent = "intent" // a mutating call is about to be sent
	EntryResult = "result" // what that call answered
	EntryStep   = "step"   // a step changed status; Step holds its whole record
	EntryEnd    = "end"    // a segment ended normally
)

// Entry is one line of journal.jsonl. Every entry is written before the executor goes on,
// and fsynced before any call it announces (journal_commit.go), so a killed process loses at
// most the entry being written (a torn last line is ignored on resume), and a crash of the
// machine at most the step and result entries since the last intent.
type Entry struct {
	Time time.Time `json:"time"`
	Type string    `json:"type"`

	// begin / end
	Digest  string `json:"digest,omitempty"`
	PID     int    `json:"pid,omitempty"`
	Host    string `json:"host,omitempty"`
	Resumed bool   `json:"resumed,omitempty"`
	DryRun  bool   `json:"dry_run,omitempty"`
	Stop    string `json:"stop,omitempty"`
	// Window is a begin record's operator override of the plan's change window.
	Window *planner.Window `json:"window,omitempty"`

	// intent / result
	StepID      string          `json:"step_id,omitempty"`
	Attempt     int             `json:"attempt,omitempty"`
	ClientToken string          `json:"client_token,omitempty"`
	Params      map[string]any  `json:"params,omitempty"` // as planned: secrets stay references
	RequestID   string          `json:"request_id,omitempty"`
	OrderID     string          `json:"order_id,omitempty"`
	OrderName   string          `json:"order_name,omitempty"`
	Error       *StepError      `json:"error,omitempty"`
	Class       provider.Class  `json:"class,omitempty"`
	Step        *StepRecord     `json:"step,omitempty"`
	Observed    provider.Values `json:"observed,omitempty"`
}

// endLastLine makes the journal end with a newline before anything is appended. A crash
// while writing an entry leaves a torn last line that ReadJournal skips; appending after it
// would glue the next entry onto it and break the journal in its middle, so no later resume
// could read it. A torn tail is cut off; a complete entry missing only its newline gets one.
func endLastLine(path string) error {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) || len(data) == 0 || data[len(data)-1] == '\n' {
		return nil
	}
	if err != nil {
		return err
	}
	start := bytes.LastIndexByte(data, '\n') + 1
	if json.Valid(data[start:]) {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			return err
		}
		_, err = f.Write([]byte{'\n'})
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		return err
	}
	return os.Truncate(path, int64(start))
}

// ReadJournal reads a run directory's journal. A torn last line (a crash while writing it) is
// ignored; a broken line before the last is an error.
func ReadJournal(dir string) ([]Entry, error) {
	b, err := os.ReadFile(filepath.Join(dir, JournalFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	var out []Entry
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 64*1024), 64*1024*1024)
	line := 0
	for sc.Scan() {
		line++
		text := bytes.TrimSpace(sc.Bytes())
		if len(text) == 0 {
			continue
		}
		var e Entry
		if err := json.Unmarshal(text, &e); err != nil {
			if !bytes.HasSuffix(b, []byte("\n")) && isLastLine(b, sc.Bytes()) {
				break // torn final write
			}
			return nil, fmt.Errorf("journal: %s line %d: %w", filepath.Join(dir, JournalFile), line, err)
		}
		out = append(out, e)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	return out, nil
}

func isLastLine(all, line []byte) bool {
	return bytes.HasSuffix(bytes.TrimRight(all, "\n"), line)
}

// writeFileAtomic writes data to path with atomicfile, so readers see the old or the new
// file, never half of one, and a power loss after it returned keeps the new one. The mode
// is 0600, as os.CreateTemp makes it: the state directory is the runner's own.
func writeFileAtomic(path string, data []byte) error { return atomicfile.WriteFile(path, data, 0o600) }

// writeFileAtomicFunc is writeFileAtomic with the content written by write.
func writeFileAtomicFunc(path string, write func(io.Writer) error) error {
	return atomicfile.Write(path, 0o600, write)
}

// WriteRecord writes rec as DIR/run.json atomically. The steps are encoded one at a time
// into the file (the bytes json.MarshalIndent would give), so a record of 100,000 steps
// never sits in memory as one document.
func WriteRecord(dir string, rec *Record) error {
	if rec.Steps == nil {
		b, err := json.MarshalIndent(rec, "", "  ")
		if err != nil {
			return fmt.Errorf("run record: encode: %w", err)
		}
		if err := writeFileAtomic(filepath.Join(dir, RecordFile), append(b, '\n')); err != nil {
			return fmt.Errorf("run record: %w", err)
		}
		return nil
	}
	shell := *rec
	shell.Steps = []StepRecord{}
	b, err := json.MarshalIndent(&shell, "", "  ")
	if err != nil {
		return fmt.Errorf("run record: encode: %w", err)
	}
	const empty = "\n  \"steps\": [],\n"
	cut := bytes.Index(b, []byte(empty))
	if cut < 0 {
		return fmt.Errorf("run record: encode: no steps field")
	}
	open := cut + len(empty) - len("],\n")
	head, tail := b[:open], b[open:]
	err = writeFileAtomicFunc(filepath.Join(dir, RecordFile), func(w io.Writer) error {
		if _, err := w.Write(head); err != nil {
			return err
		}
		var compact, indented []byte
		for i := range rec.Steps {
			sep := ",\n    "
			if i == 0 {
				sep = "\n    "
			}
			compact = appendStepRecord(compact[:0], &rec.Steps[i])
			indented = jsonindent.Append(append(indented[:0], sep...), compact, "    ", "  ")
			if _, err := w.Write(indented); err != nil {
				return err
			}
		}
		if len(rec.Steps) > 0 {
			io.WriteString(w, "\n  ")
		}
		if _, err := w.Write(tail); err != nil {
			return err
		}
		_, err := w.Write([]byte{'\n'})
		return err
	})
	if err != nil {
		return fmt.Errorf("run record: %w", err)
	}
	return nil
}

// ReadRecord reads DIR/run.json (or the file itself when path names one).
func ReadRecord(path string) (*Record, error) {
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		path = filepath.Join(path, RecordFile)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("run record: %w", err)
	}
	var rec Record
	if err := json.Unmarshal(b, &rec); err != nil {
		return nil, fmt.Errorf("run record: %s: %w", path, err)
	}
	return &rec, nil
}
