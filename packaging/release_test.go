package packaging

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// repoRoot is the module root, where the Makefile's scripts run.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// TestReleaseBuildsWindowsWithChecksums cross-builds the platform that breaks first
// (Windows has no flock) through scripts/release.sh, and checks that SHA256SUMS names the
// binary with its real digest, so `sha256sum -c` passes for a user who downloads it.
// `make release` builds all six platforms the same way.
func TestReleaseBuildsWindowsWithChecksums(t *testing.T) {
	if testing.Short() {
		t.Skip("cross-builds a binary; skipped with -short")
	}
	dist := t.TempDir()
	cmd := exec.Command("./scripts/release.sh")
	cmd.Dir = repoRoot(t)
	cmd.Env = append(os.Environ(), "VERSION=v0.0.0-test", "COMMIT=0123456789ab",
		"PLATFORMS=windows/amd64", "DIST="+dist)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("scripts/release.sh: %v\n%s", err, out)
	}
	const name = "upgradeplan_v0.0.0-test_windows_amd64.exe"
	sums := readSums(t, filepath.Join(dist, "SHA256SUMS"))
	want, ok := sums[name]
	if !ok || len(sums) != 1 {
		t.Fatalf("SHA256SUMS = %v, want exactly %s", sums, name)
	}
	if got := fileSHA256(t, filepath.Join(dist, name)); got != want {
		t.Errorf("SHA256SUMS says %s for %s, the file hashes to %s", want, name, got)
	}
	head := make([]byte, 2)
	f, err := os.Open(filepath.Join(dist, name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := io.ReadFull(f, head); err != nil || string(head) != "MZ" {
		t.Errorf("%s does not start with a PE header (MZ): %q, %v", name, head, err)
	}
}

// TestReleaseHostBinaryIsStampedAndStatic builds the host's platform and runs it: the
// version and commit the Makefile passes are what --version prints.
func TestReleaseHostBinaryIsStampedAndStatic(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a binary; skipped with -short")
	}
	if runtime.GOOS != "linux" {
		t.Skip("checks an ELF binary")
	}
	dist := t.TempDir()
	cmd := exec.Command("./scripts/release.sh")
	cmd.Dir = repoRoot(t)
	cmd.Env = append(os.Environ(), "VERSION=v9.8.7", "COMMIT=fedcba987654",
		"PLATFORMS=linux/"+runtime.GOARCH, "DIST="+dist)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("scripts/release.sh: %v\n%s", err, out)
	}
	bin := filepath.Join(dist, "upgradeplan_v9.8.7_linux_"+runtime.GOARCH)
	out, err := exec.Command(bin, "--version").CombinedOutput()
	if err != nil {
		t.Fatalf("%s --version: %v\n%s", bin, err, out)
	}
	if got := string(out); !strings.Contains(got, "v9.8.7") || !strings.Contains(got, "fedcba987654") {
		t.Errorf("--version = %q, want the stamped version v9.8.7 and commit fedcba987654", got)
	}
	assertStatic(t, bin)
}

// assertStatic fails when the ELF binary asks for a dynamic loader: a binary on an empty
// image base (or an old distribution) must not need a libc.
func assertStatic(t *testing.T, bin string) {
	t.Helper()
	data, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(data[:min(len(data), 1<<16)]), "ld-linux") {
		t.Errorf("%s names a dynamic loader (ld-linux): it is not a static binary", bin)
	}
}

func readSums(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sums := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) != 2 {
			t.Fatalf("%s: line %q is not `<sha256>  <file>`", path, sc.Text())
		}
		sums[strings.TrimPrefix(fields[1], "*")] = fields[0]
	}
	return sums
}

func fileSHA256(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}
