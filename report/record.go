package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/upgradeplan/upgradeplan/executor"
)

// ErrRecordSchema is returned for a run.json whose schema this build does not read.
var ErrRecordSchema = errors.New("unknown run record schema")

// JSON writes rec as run.json: indented, keys in the order the record types declare (map
// keys sorted), with <, > and & left readable, and a final newline.
func JSON(w io.Writer, rec *executor.Record) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(rec); err != nil {
		return fmt.Errorf("report: encode run record: %w", err)
	}
	_, err := w.Write(buf.Bytes())
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
