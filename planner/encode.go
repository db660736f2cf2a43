package planner

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"io"

	"github.com/upgradeplan/upgradeplan/internal/jsonindent"
)

// A plan of 100,000 instances is about 50 MB of JSON. Encoding it with one json.Marshal
// holds the whole document (and the buffer's doublings) in memory, once for the digest and
// again for the indented file; encodePlan writes it one target and one step at a time
// instead, hashing the compact form and writing the indented form in the same pass. The
// bytes are exactly json.Marshal's and json.MarshalIndent(p, "", "  ")'s (encode_test.go
// compares them): Marshal and MarshalIndent encode an element of a slice the same way
// wherever it stands, and MarshalIndent is Marshal followed by Indent.

// The plan's three last fields, as json.Marshal and json.MarshalIndent write them when the
// head (the plan without targets, steps and digest) is encoded alone.
const (
	compactTail  = `,"targets":null,"steps":null,"digest":""}`
	indentedTail = "\n  \"targets\": null,\n  \"steps\": null,\n  \"digest\": \"\"\n}"
)

// encodePlan computes the digest of p (the SHA-256 of its compact JSON with Digest empty)
// and, when out is non-nil, writes p's indented JSON with that digest and a newline to out.
// It does not set p.Digest.
func encodePlan(p *Plan, out io.Writer) (string, error) {
	head := *p
	head.Targets, head.Steps, head.Digest = nil, nil, ""
	compactHead, err := json.Marshal(&head)
	if err != nil {
		return "", fmt.Errorf("plan: encode: %w", err)
	}
	c, ok := bytes.CutSuffix(compactHead, []byte(compactTail))
	if !ok {
		return "", fmt.Errorf("plan: encode: the plan's JSON does not end in targets, steps, digest")
	}
	e := &planEncoder{h: sha256.New()}
	if out != nil {
		e.w = bufio.NewWriterSize(out, 64<<10)
		var ind bytes.Buffer
		if err := json.Indent(&ind, compactHead, "", "  "); err != nil {
			return "", fmt.Errorf("plan: encode: %w", err)
		}
		i, ok := bytes.CutSuffix(ind.Bytes(), []byte(indentedTail))
		if !ok {
			return "", fmt.Errorf("plan: encode: the plan's indented JSON does not end in targets, steps, digest")
		}
		e.w.Write(i)
	}
	e.h.Write(c)
	writeArray(e, "targets", true, p.Targets)
	writeArray(e, "steps", false, p.Steps)
	e.h.Write([]byte(`,"digest":""}`))
	digest := hex.EncodeToString(e.h.Sum(nil))
	if e.err != nil {
		return "", e.err
	}
	if e.w != nil {
		e.w.WriteString(",\n  \"digest\": \"" + digest + "\"\n}\n")
		if err := e.w.Flush(); err != nil {
			return "", err
		}
	}
	return digest, nil
}

// writeArray writes the array field name with the elements of s (null when s is nil).
func writeArray[T any](e *planEncoder, name string, first bool, s []T) {
	e.field(name, first)
	if s == nil {
		e.null()
		return
	}
	for k := range s {
		e.element(k, &s[k])
	}
	e.end(len(s))
}

// planEncoder writes the compact form to h and, when w is set, the indented form to w.
type planEncoder struct {
	h       hash.Hash
	w       *bufio.Writer
	buf     []byte // the indented element
	compact []byte // the compact step (appendStep)
	err     error
}

// field starts the array field name (first: right after the head).
func (e *planEncoder) field(name string, first bool) {
	e.h.Write([]byte(`,"` + name + `":`))
	if e.w != nil {
		if !first {
			e.w.WriteByte(',')
		}
		e.w.WriteString("\n  \"" + name + "\": ")
	}
}

func (e *planEncoder) null() {
	e.h.Write([]byte("null"))
	if e.w != nil {
		e.w.WriteString("null")
	}
}

// element writes the k-th element of the array being written.
func (e *planEncoder) element(k int, v any) {
	if e.err != nil {
		return
	}
	var b []byte
	var err error
	if s, ok := v.(*Step); ok {
		e.compact, err = appendStep(e.compact[:0], s)
		b = e.compact
	} else {
		b, err = json.Marshal(v)
	}
	if err != nil {
		e.err = fmt.Errorf("plan: encode: %w", err)
		return
	}
	sep := []byte{','}
	if k == 0 {
		sep[0] = '['
	}
	e.h.Write(sep)
	e.h.Write(b)
	if e.w == nil {
		return
	}
	e.buf = jsonindent.Append(e.buf[:0], b, "    ", "  ")
	e.w.Write(sep)
	e.w.WriteString("\n    ")
	e.w.Write(e.buf)
}

// end closes an array of n elements.
func (e *planEncoder) end(n int) {
	if n == 0 {
		e.h.Write([]byte("[]"))
		if e.w != nil {
			e.w.WriteString("[]")
		}
		return
	}
	e.h.Write([]byte{']'})
	if e.w != nil {
		e.w.WriteString("\n  ]")
	}
}
