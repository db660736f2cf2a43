package atomicfile

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// The directory is synced after the rename, so the new file's entry is durable when Write
// returns: at that sync the target already holds the new content.
func TestWriteSyncsTheDirectoryAfterTheRename(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "report.md")
	if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	var seen []string
	orig := syncDir
	syncDir = func(d string) error {
		b, _ := os.ReadFile(path)
		seen = append(seen, d+": "+string(b))
		return orig(d)
	}
	defer func() { syncDir = orig }()
	if err := WriteFile(path, []byte("new"), 0o644); err != nil {
		t.Fatal(err)
	}
	if len(seen) != 1 || seen[0] != dir+": new" {
		t.Errorf("directory syncs %q, want one of %s after the rename", seen, dir)
	}
}

// A write that fails leaves the target as it was and no temporary file behind.
func TestAFailedWriteLeavesTheTargetAndNoTemporaryFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "junit.xml")
	os.WriteFile(path, []byte("old"), 0o644)
	boom := errors.New("render failed")
	if err := Write(path, 0o644, func(w io.Writer) error { w.Write([]byte("half")); return boom }); !errors.Is(err, boom) {
		t.Fatalf("Write: %v, want the render's error", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "old" {
		t.Errorf("target holds %q, want the old content", b)
	}
	if tmps, _ := filepath.Glob(filepath.Join(dir, ".junit.xml.tmp-*")); len(tmps) != 0 {
		t.Errorf("temporary files left: %q", tmps)
	}
}

// Temporary files a killed write left are removed by the next write of the same file; a
// recent one (another process's write in progress) and other files' ones are kept.
func TestWriteRemovesTheTemporaryFilesOfKilledWrites(t *testing.T) {
	dir := t.TempDir()
	old := time.Now().Add(-2 * StaleAge)
	for _, name := range []string{".report.md.tmp-111", ".report.md.tmp-222", ".junit.xml.tmp-333"} {
		os.WriteFile(filepath.Join(dir, name), []byte("killed"), 0o644)
		os.Chtimes(filepath.Join(dir, name), old, old)
	}
	os.WriteFile(filepath.Join(dir, ".report.md.tmp-444"), []byte("live"), 0o644)
	if err := WriteFile(filepath.Join(dir, "report.md"), []byte("new"), 0o644); err != nil {
		t.Fatal(err)
	}
	for name, kept := range map[string]bool{".report.md.tmp-111": false, ".report.md.tmp-222": false,
		".report.md.tmp-444": true, ".junit.xml.tmp-333": true, "report.md": true} {
		if _, err := os.Stat(filepath.Join(dir, name)); (err == nil) != kept {
			t.Errorf("%s: kept %v, want %v", name, err == nil, kept)
		}
	}
}
