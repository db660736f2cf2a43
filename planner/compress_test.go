package planner

import (
	"bytes"
	"compress/gzip"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A plan written as .gz is gzip, deterministic, reads back to the same plan with the same
// digest as the uncompressed file, and is smaller.
func TestCompressedPlanRoundTripsWithTheSameDigest(t *testing.T) {
	cloud, fleet := demoFleet()
	p, err := Build(t.Context(), fleet, cloud.registry(), Options{ToolVersion: "v1"})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	plain, gz, gz2 := filepath.Join(dir, "plan.json"), filepath.Join(dir, "plan.json.gz"), filepath.Join(dir, "again.json.gz")
	for _, path := range []string{plain, gz, gz2} {
		if err := WriteFile(path, p); err != nil {
			t.Fatal(err)
		}
	}
	zdata, _ := os.ReadFile(gz)
	zdata2, _ := os.ReadFile(gz2)
	pdata, _ := os.ReadFile(plain)
	if !IsGzip(zdata) || len(zdata) >= len(pdata) {
		t.Fatalf("plan.json.gz is not a smaller gzip file (%d bytes vs %d)", len(zdata), len(pdata))
	}
	if !bytes.Equal(zdata, zdata2) {
		t.Error("compressing the same plan twice gave different bytes")
	}
	back, err := ReadFile(gz)
	if err != nil {
		t.Fatalf("reading the compressed plan: %v", err)
	}
	if back.Digest != p.Digest {
		t.Errorf("digest read back %s, want %s (the uncompressed plan's)", back.Digest, p.Digest)
	}
	inner, err := Gunzip(zdata)
	if err != nil || !bytes.Equal(inner, pdata) {
		t.Errorf("the compressed file does not hold the plain plan's bytes (err %v)", err)
	}
}

// A gzip stream that expands past the limit (MaxPlanSize) is refused, not read into memory
// whole.
func TestGunzipRefusesABomb(t *testing.T) {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	zeros := make([]byte, 1<<20)
	for i := 0; i < 3; i++ {
		zw.Write(zeros)
	}
	zw.Close()
	_, err := gunzip(buf.Bytes(), 2<<20)
	if err == nil || !strings.Contains(err.Error(), "expands to more than") {
		t.Fatalf("Gunzip of a %d-byte bomb = %v, want a refusal", buf.Len(), err)
	}
	if errors.Is(err, ErrDigestMismatch) {
		t.Error("a bomb is not a digest mismatch")
	}
}
