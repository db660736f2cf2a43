package alisdk_test

import (
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/upgradeplan/upgradeplan/provider"
)

// deep calls f under n more frames: the executor calls a provider from some 25 frames
// down (its step goroutine, the limiter, the Doer, the product's Apply), and the SDK's
// nonce costs by the depth of the calling stack.
//
//go:noinline
func deep(n int, f func()) {
	if n == 0 {
		f()
		return
	}
	deep(n-1, f)
}

// BenchmarkInvoke is one Alibaba call through the pool, the real SDK and HTTP against a
// loopback server answering at once, from as deep a stack as the executor's: the client's
// CPU per call (signing, the request, decoding) without the cloud's latency. The server's
// share is in the same process.
func BenchmarkInvoke(b *testing.B) {
	srv := httptest.NewServer(answer(200, `{"RequestId":"R-OK","Success":true,"Code":200,"Message":"ok"}`))
	defer srv.Close()
	p := openPool(b, srv.Listener.Addr().String(), provider.Config{})
	b.ReportAllocs()
	b.ResetTimer()
	start := cpuTime()
	defer func() { b.ReportMetric(float64((cpuTime()-start).Microseconds())/float64(b.N), "cpu-µs/call") }()
	for i := 0; i < b.N; i++ {
		deep(25, func() {
			if err := upgradeCall(p); err != nil {
				b.Fatal(err)
			}
		})
	}
}

// cpuTime is the process's CPU time so far (user and system; the server's share too).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// A pool dials once per client it creates and reuses the connection after: concurrent
// calls beyond the pool's clients wait for one and ride its connection.
func TestAPoolDialsOncePerClient(t *testing.T) {
	var dials atomic.Int64
	srv := httptest.NewUnstartedServer(answer(200, `{"RequestId":"R-OK","Success":true,"Code":200}`))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			dials.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	p := openPool(t, srv.Listener.Addr().String(), provider.Config{}) // 3 clients
	for range 3 {
		var wg sync.WaitGroup
		for range 30 {
			wg.Go(func() {
				if err := upgradeCall(p); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
	}
	if got := dials.Load(); got > 3 {
		t.Fatalf("90 calls on a pool of 3 clients dialed %d connections, want at most 3", got)
	}
}
