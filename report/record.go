package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
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

// DecodeRecord reads a run record and refuses one whose schema is not executor.RecordSchema.
// Numbers in values keep their text (json.Number), so re-rendering is byte-identical.
func DecodeRecord(r io.Reader) (*executor.Record, error) {
	dec := json.NewDecoder(r)
	dec.UseNumber()
	var rec executor.Record
	if err := dec.Decode(&rec); err != nil {
		return nil, fmt.Errorf("report: read run record: %w", err)
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

// ReadRecord reads the run.json at path (see DecodeRecord).
func ReadRecord(path string) (*executor.Record, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	defer f.Close()
	rec, err := DecodeRecord(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return rec, nil
}
