package planner

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"strings"
)

// A plan file may be gzip-compressed: `plan -o plan.json.gz` writes it so (a 10,000-instance
// plan of about 5 MB then fits a Kubernetes ConfigMap's 1 MiB), and every reader takes either
// form, told apart by gzip's magic bytes rather than the name. The digest is always that of
// the uncompressed canonical plan, so compressing a reviewed plan does not change what was
// approved. The compressed bytes are deterministic (no name, no modification time), so two
// plans of the same content compress alike.

// MaxPlanSize bounds what a compressed plan may expand to, so a gzip bomb cannot exhaust
// memory: well above the largest fleet (100,000 instances are about 60 MB).
const MaxPlanSize = 256 << 20

// IsGzip reports whether data starts like a gzip stream.
func IsGzip(data []byte) bool { return len(data) >= 2 && data[0] == 0x1f && data[1] == 0x8b }

// Gunzip returns the plan inside a gzip-compressed file; data that is not gzip is returned
// as it is.
func Gunzip(data []byte) ([]byte, error) { return gunzip(data, MaxPlanSize) }

func gunzip(data []byte, limit int) ([]byte, error) {
	if !IsGzip(data) {
		return data, nil
	}
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("plan: gzip: %w", err)
	}
	out, err := io.ReadAll(io.LimitReader(zr, int64(limit)+1))
	if err != nil {
		return nil, fmt.Errorf("plan: gzip: %w", err)
	}
	if len(out) > limit {
		return nil, fmt.Errorf("plan: gzip: the plan expands to more than %d bytes", limit)
	}
	return out, nil
}

// compressed reports whether a plan written to path is compressed.
func compressed(path string) bool { return strings.HasSuffix(path, ".gz") }

// newGzipWriter compresses deterministically what is written to it into w (no name, no
// modification time); Close finishes the stream.
func newGzipWriter(w io.Writer) (*gzip.Writer, error) {
	return gzip.NewWriterLevel(w, gzip.BestCompression)
}
