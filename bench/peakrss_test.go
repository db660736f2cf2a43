package main

import (
	"context"
	"io"
	"os"
	"testing"

	"github.com/upgradeplan/upgradeplan/internal/peakrss"
)

// The peak RSS the bench reports for a child is the child's own, not the bench's: a parent
// holding 400 MB starts a child that holds next to nothing, and the child's figure stays
// far below the parent's. With ru_maxrss alone (what wait4 returns) the child "peaked" at
// the parent's size, since exec records the high-water mark of the memory it replaces and
// os/exec starts the child over the parent's.
func TestAChildsPeakRSSIsItsOwnNotTheBenchs(t *testing.T) {
	if os.Getenv("BENCH_PEAKRSS_CHILD") == "1" {
		return
	}
	const held = 400 << 20
	ballast := make([]byte, held)
	for i := 0; i < len(ballast); i += 4096 {
		ballast[i] = 1
	}
	parent, err := peakrss.Self()
	if err != nil {
		t.Skip("no /proc/self/status here:", err)
	}
	// The child is this test binary running only the helper below, which writes its own
	// peak as upgradeplan's hook does.
	env := append(os.Environ(), "BENCH_PEAKRSS_CHILD=1")
	c, err := runChild(context.Background(), os.Args[0], env, io.Discard, io.Discard, "-test.run=^TestPeakRSSChildHelper$")
	if err != nil || c.exit != 0 {
		t.Fatalf("child: exit %d, %v", c.exit, err)
	}
	if c.maxRSS <= 0 || c.maxRSS > 150<<20 {
		t.Fatalf("child's peak RSS %d MB with the parent at %d MB: want the child's own (well under 150 MB)", c.maxRSS>>20, parent>>20)
	}
	t.Logf("parent %d MB, child %d MB", parent>>20, c.maxRSS>>20)
	ballast[len(ballast)-1] = 2 // keep the ballast alive until the child has run
}

// TestPeakRSSChildHelper is the child of the test above; run alone it does nothing.
func TestPeakRSSChildHelper(t *testing.T) {
	if os.Getenv("BENCH_PEAKRSS_CHILD") != "1" {
		return
	}
	if err := peakrss.WriteIfAsked(); err != nil {
		t.Fatal(err)
	}
}
