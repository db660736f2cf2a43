package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/upgradeplan/upgradeplan/executor"
)

// ErrRecordSchema is returned for a run.json whose schema this build does not read.
var ErrRecordSchema = errors.New("unknown run record schema")

// JSON writes rec as run.json: indented, keys in the order the record types declare (map
// keys sorted), with <, > and & left readable, and a final newline. The steps are encoded
// one at a time into w (the bytes one Encode of the whole record gives), so a record of
// 100,000 steps is never held as one document: encoded whole, then indented, then copied,
// it was some 300 MB at the end of a 100k apply, the peak of its RSS.
func JSON(w io.Writer, rec *executor.Record) error {
	var buf bytes.Buffer
	encoder := func(prefix string) *json.Encoder {
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		enc.SetIndent(prefix, "  ")
		return enc
	}
	encode := func(enc *json.Encoder, v any) error {
		buf.Reset()
		if err := enc.Encode(v); err != nil {
			return fmt.Errorf("report: encode run record: %w", err)
		}
		return nil
	}
	if rec.Steps == nil {
		if err := encode(encoder(""), rec); err != nil {
			return err
		}
		_, err := w.Write(buf.Bytes())
		return err
	}
	shell := *rec
	shell.Steps = []executor.StepRecord{}
	if err := encode(encoder(""), &shell); err != nil {
		return err
	}
	const empty = "\n  \"steps\": [],\n"
	doc := buf.String()
	cut := strings.Index(doc, empty)
	if cut < 0 {
		return fmt.Errorf("report: encode run record: no steps field")
	}
	open := cut + len(empty) - len("],\n")
	head, tail := doc[:open], doc[open:]
	if _, err := io.WriteString(w, head); err != nil {
		return err
	}
	step := encoder("    ")
	for i := range rec.Steps {
		if err := encode(step, &rec.Steps[i]); err != nil {
			return err
		}
		sep := ",\n    "
		if i == 0 {
			sep = "\n    "
		}
		io.WriteString(w, sep)
		if _, err := w.Write(bytes.TrimSuffix(buf.Bytes(), []byte{'\n'})); err != nil {
			return err
		}
	}
	if len(rec.Steps) > 0 {
		io.WriteString(w, "\n  ")
	}
	_, err := io.WriteString(w, tail)
	return err
}

// ErrRecordCorrupt is returned for a run.json that is not one whole JSON document: cut
// short (a write interrupted on a file system that lost the rename's order), broken, or
// with data after the record. Rendering such a file would report a run that is not there.
var ErrRecordCorrupt = errors.New("run record is incomplete or corrupt")

// corruptError is ErrRecordCorrupt with what is wrong and, once ReadRecord knows them, the
// file's path and the journal beside it.
type corruptError struct{ detail, path, journal string }

func (e *corruptError) Error() string {
	if e.path == "" {
		return ErrRecordCorrupt.Error() + ": " + e.detail
	}
	msg := e.path + " is incomplete or corrupt (" + e.detail + "), so it cannot be rendered"
	if e.journal != "" {
		msg += "; " + e.journal + " beside it has the run's history, one line per step transition"
	}
	return msg
}

func (e *corruptError) Is(target error) bool { return target == ErrRecordCorrupt }

// DecodeRecord reads a run record: exactly one JSON document, else ErrRecordCorrupt. It
// refuses one whose schema is not executor.RecordSchema. Numbers in values keep their text
// (json.Number), so re-rendering is byte-identical.
func DecodeRecord(r io.Reader) (*executor.Record, error) {
	dec := json.NewDecoder(r)
	dec.UseNumber()
	var rec executor.Record
	if err := dec.Decode(&rec); err != nil {
		var syntax *json.SyntaxError
		switch {
		case errors.Is(err, io.EOF):
			return nil, fmt.Errorf("report: %w", &corruptError{detail: "it is empty"})
		case errors.Is(err, io.ErrUnexpectedEOF):
			return nil, fmt.Errorf("report: %w", &corruptError{detail: "it ends inside the record: the write was cut short"})
		case errors.As(err, &syntax):
			return nil, fmt.Errorf("report: %w", &corruptError{detail: fmt.Sprintf("%v (byte %d)", err, syntax.Offset)})
		}
		return nil, fmt.Errorf("report: read run record: %w", err)
	}
	if end := dec.InputOffset(); !isEOF(dec) {
		return nil, fmt.Errorf("report: %w", &corruptError{detail: fmt.Sprintf("more data follows the record, which ends at byte %d", end)})
	}
	if rec.Schema != executor.RecordSchema {
		schema := rec.Schema
		if schema == "" {
			schema = "(none)"
		}
		return nil, fmt.Errorf("report: %w %q (this upgradeplan reads %q)", ErrRecordSchema, schema, executor.RecordSchema)
	}
	return &rec, nil
}

// isEOF reports whether only white space is left for dec.
func isEOF(dec *json.Decoder) bool {
	_, err := dec.Token()
	return err == io.EOF
}

// ReadRecord reads the run.json at path (see DecodeRecord). An incomplete or corrupt one is
// named as such, with the run directory's journal when there is one: it has the run's
// history, step by step.
func ReadRecord(path string) (*executor.Record, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	defer f.Close()
	rec, err := DecodeRecord(f)
	var corrupt *corruptError
	switch {
	case errors.As(err, &corrupt):
		named := &corruptError{detail: corrupt.detail, path: path}
		if journal := filepath.Join(filepath.Dir(path), executor.JournalFile); fileExists(journal) {
			named.journal = journal
		}
		return nil, fmt.Errorf("report: %w", named)
	case err != nil:
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return rec, nil
}

func fileExists(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.Mode().IsRegular()
}
