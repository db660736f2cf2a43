package packaging

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestImageBinaryRuns builds the image with scripts/image.sh (podman or buildah from
// Debian's packages, offline: the Containerfile starts FROM scratch), extracts the binary
// from the image as a registry user would get it, runs its --version, and checks the image
// runs as the non-root user with the CA bundle in place. Skipped, with a message, only where
// neither builder is installed; .ci/run installs podman, and UPGRADEPLAN_REQUIRE_IMAGE=1
// turns the skip into a failure there.
func TestImageBinaryRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("builds an image; skipped with -short")
	}
	if runtime.GOOS != "linux" {
		t.Skip("builds a linux image")
	}
	if _, err := exec.LookPath("podman"); err != nil {
		msg := "podman is not installed (apt-get install -y podman): image not checked"
		if os.Getenv("UPGRADEPLAN_REQUIRE_IMAGE") == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	image := "localhost/upgradeplan-test:" + strings.ToLower(strings.ReplaceAll(t.Name(), "/", "-"))
	build := exec.Command("./scripts/image.sh")
	build.Dir = repoRoot(t)
	build.Env = append(os.Environ(), "VERSION=v1.2.3-test", "COMMIT=abcdef123456", "IMAGE="+image)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("scripts/image.sh: %v\n%s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("podman", "rmi", "-f", image).Run() })

	var inspect []struct {
		Config struct {
			User       string
			Entrypoint []string
			Env        []string
		}
	}
	out, err := exec.Command("podman", "image", "inspect", image).Output()
	if err != nil {
		t.Fatalf("podman image inspect: %v", err)
	}
	if err := json.Unmarshal(out, &inspect); err != nil || len(inspect) != 1 {
		t.Fatalf("podman image inspect: %v\n%s", err, out)
	}
	cfg := inspect[0].Config
	if cfg.User == "" || cfg.User == "0" || strings.HasPrefix(cfg.User, "0:") || cfg.User == "root" {
		t.Errorf("image user = %q, want a non-root user", cfg.User)
	}
	if len(cfg.Entrypoint) != 1 || cfg.Entrypoint[0] != "/usr/local/bin/upgradeplan" {
		t.Errorf("entrypoint = %q, want [/usr/local/bin/upgradeplan]", cfg.Entrypoint)
	}

	// Extract without running a container: `podman run` needs privileges a CI sandbox may
	// not grant, `create` and `cp` do not.
	id, err := exec.Command("podman", "create", image).Output()
	if err != nil {
		t.Fatalf("podman create: %v", err)
	}
	ctr := strings.TrimSpace(string(id))
	t.Cleanup(func() { _ = exec.Command("podman", "rm", "-f", ctr).Run() })
	dir := t.TempDir()
	for _, p := range []string{"/usr/local/bin/upgradeplan", "/etc/ssl/certs/ca-certificates.crt"} {
		dst := filepath.Join(dir, filepath.Base(p))
		if out, err := exec.Command("podman", "cp", ctr+":"+p, dst).CombinedOutput(); err != nil {
			t.Fatalf("podman cp %s: %v\n%s", p, err, out)
		}
	}
	if ca, err := os.ReadFile(filepath.Join(dir, "ca-certificates.crt")); err != nil || !strings.Contains(string(ca), "BEGIN CERTIFICATE") {
		t.Errorf("the image's CA bundle holds no certificate (err %v)", err)
	}
	bin := filepath.Join(dir, "upgradeplan")
	v, err := exec.Command(bin, "--version").CombinedOutput()
	if err != nil {
		t.Fatalf("extracted binary --version: %v\n%s", err, v)
	}
	if !strings.Contains(string(v), "v1.2.3-test") || !strings.Contains(string(v), "abcdef123456") {
		t.Errorf("extracted binary --version = %q, want version v1.2.3-test, commit abcdef123456", v)
	}
	assertStatic(t, bin)
}
