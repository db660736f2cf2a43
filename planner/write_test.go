//go:build unix

package planner_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/upgradeplan/upgradeplan/planner"
)

func goldenPlan(t *testing.T) *planner.Plan {
	t.Helper()
	p, err := planner.ReadFile(filepath.Join("testdata", "golden", "fleet.plan.json.golden"))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// names lists dir's entries, so a test sees a stray temp file or a replaced link.
func names(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}

// plan -o link.json, link.json a symlink to real.json: the plan lands in real.json and
// link.json stays the link, as `> link.json` would leave it.
func TestWritingAPlanToASymlinkWritesItsTarget(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "plans", "real.json")
	if err := os.Mkdir(filepath.Dir(real), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(real, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link.json")
	if err := os.Symlink(filepath.Join("plans", "real.json"), link); err != nil {
		t.Fatal(err)
	}
	p := goldenPlan(t)
	if err := planner.WriteFile(link, p); err != nil {
		t.Fatal(err)
	}
	if target, err := os.Readlink(link); err != nil || target != filepath.Join("plans", "real.json") {
		t.Fatalf("link.json after the write: Readlink = %q, %v; want the link to plans/real.json kept", target, err)
	}
	back, err := planner.ReadFile(real)
	if err != nil || back.Digest != p.Digest {
		t.Fatalf("real.json after the write: %v (digest %v); want the plan", err, back)
	}
	if got := names(t, dir); !slices.Equal(got, []string{"link.json", "plans"}) {
		t.Errorf("the link's directory holds %v; want link.json and plans only", got)
	}
	if got := names(t, filepath.Dir(real)); !slices.Equal(got, []string{"real.json"}) {
		t.Errorf("the target's directory holds %v; want real.json only (no temp file left)", got)
	}
}

// A link to a file not there yet (--digest-file plan.digest, a link into a release
// directory) creates that file.
func TestWritingToADanglingSymlinkCreatesItsTarget(t *testing.T) {
	dir := t.TempDir()
	link := filepath.Join(dir, "plan.digest")
	if err := os.Symlink("current.digest", link); err != nil {
		t.Fatal(err)
	}
	if err := planner.WriteDigestFile(link, "abc"); err != nil {
		t.Fatal(err)
	}
	if data, err := os.ReadFile(filepath.Join(dir, "current.digest")); err != nil || string(data) != "abc\n" {
		t.Fatalf("current.digest = %q, %v; want the digest", data, err)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("plan.digest is no longer a symlink: %v, %v", fi, err)
	}
}

// A path that exists and is not a regular file is refused with what it is, and left as it
// was: a rename would have replaced a FIFO a reader waits on, or failed on a directory with
// only "file exists".
func TestWritingAPlanOverANonRegularFileIsRefused(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "pipe")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("no FIFO here: %v", err)
	}
	sub := filepath.Join(dir, "plans")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	linkToSub := filepath.Join(dir, "to-plans")
	if err := os.Symlink("plans", linkToSub); err != nil {
		t.Fatal(err)
	}
	p := goldenPlan(t)
	for path, want := range map[string]string{
		fifo:      fifo + " is a named pipe (FIFO), not a regular file; name a regular file (or a symlink to one) instead",
		sub:       sub + " is a directory, not a regular file; name a regular file (or a symlink to one) instead",
		linkToSub: linkToSub + " is a directory, not a regular file; name a regular file (or a symlink to one) instead",
	} {
		err := planner.WriteFile(path, p)
		if err == nil || err.Error() != want {
			t.Errorf("WriteFile(%s) = %v; want %q", filepath.Base(path), err, want)
		}
	}
	if fi, err := os.Lstat(fifo); err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
		t.Errorf("the FIFO was replaced: %v, %v", fi, err)
	}
	if got := names(t, dir); !slices.Equal(got, []string{"pipe", "plans", "to-plans"}) || len(names(t, sub)) != 0 {
		t.Errorf("left behind: %v (plans/ holds %v)", got, names(t, sub))
	}
	if err := planner.WriteDigestFile(sub, "abc"); err == nil || !strings.Contains(err.Error(), "is a directory") {
		t.Errorf("WriteDigestFile(plans) = %v; want the directory refused", err)
	}
}

// A plan write killed before its rename leaves its temporary file beside the plan; the
// next write of that plan removes it (once it is a minute old, so another process's write
// in progress is left alone), and the plan file stays readable by its owner only.
func TestWritingAPlanRemovesAKilledWritesTemporaryFile(t *testing.T) {
	dir := t.TempDir()
	stale := filepath.Join(dir, ".plan.json.tmp-123")
	if err := os.WriteFile(stale, []byte("half a plan"), 0o600); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-time.Hour)
	if err := os.Chtimes(stale, old, old); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "plan.json")
	if err := planner.WriteFile(path, goldenPlan(t)); err != nil {
		t.Fatal(err)
	}
	if got := names(t, dir); !slices.Equal(got, []string{"plan.json"}) {
		t.Errorf("the directory holds %v; want only plan.json, the killed write's temporary file removed", got)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("plan.json: %v %v; want mode 0600", fi.Mode(), err)
	}
}
