package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const simTestState = `accounts:
  - {name: demo-ali, cloud: alibaba, keyId: demo-ak, secret: demo-sk}
redis:
  - {id: crs-1, region: ap-shanghai, status: 2, memSizeMB: 4096, shards: 3, replicas: 2}
`

func TestSimServesUntilCancelledThenExitsZero(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "state.yaml")
	if err := os.WriteFile(state, []byte(simTestState), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	outR, outW := io.Pipe()
	var stderr strings.Builder
	exit := make(chan int, 1)
	go func() {
		exit <- runWith(ctx, []string{"upgradeplan", "sim", "--state", state, "--time-scale", "60"}, outW, &stderr)
		outW.Close()
	}()
	first, err := bufio.NewReader(outR).ReadString('\n')
	if err != nil {
		t.Fatalf("no first line (stderr %q): %v", stderr.String(), err)
	}
	addr, ok := strings.CutPrefix(strings.TrimSpace(first), "listening on ")
	if !ok || !strings.HasPrefix(addr, "127.0.0.1:") || strings.HasSuffix(addr, ":0") {
		t.Fatalf("first line %q, want listening on 127.0.0.1:PORT", first)
	}
	resp, err := http.Get("http://" + addr + "/_sim/state")
	if err != nil {
		t.Fatal(err)
	}
	var st map[string]any
	err = json.NewDecoder(resp.Body).Decode(&st)
	resp.Body.Close()
	if err != nil || st["redis"] == nil || strings.Contains(stderr.String(), "demo-sk") {
		t.Fatalf("state %v (%v)", st, err)
	}
	cancel()
	select {
	case code := <-exit:
		if code != ExitOK {
			t.Errorf("exit %d after cancellation, want 0; stderr %q", code, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("sim did not stop after cancellation")
	}
	if _, err := http.Get("http://" + addr + "/_sim/state"); err == nil {
		t.Error("the port still answers after shutdown")
	}
}

func TestSimRefusesBadInput(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("accounts: []\nkafkaa: {}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	badFaults := filepath.Join(dir, "faults.yaml")
	if err := os.WriteFile(badFaults, []byte("rules: [{fault: explode}]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	good := filepath.Join(dir, "good.yaml")
	if err := os.WriteFile(good, []byte(simTestState), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, wantErr string
		args          []string
	}{
		{"a missing --state is a usage error", "sim: --state FILE is required", nil},
		{"an unreadable state file is named", "no-such.yaml", []string{"--state", filepath.Join(dir, "no-such.yaml")}},
		{"an unknown state key is reported with its file and line", `bad.yaml: sim: state: line 2: unknown key "kafkaa"`, []string{"--state", bad}},
		{"a bad faults file is reported", `unknown fault "explode"`, []string{"--state", good, "--faults", badFaults}},
		{"a zero time scale is refused", "--time-scale must be positive", []string{"--state", good, "--time-scale", "0"}},
		{"an address in use or invalid is reported", "sim:", []string{"--state", good, "--listen", "127.0.0.1:notaport"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr strings.Builder
			code := runWith(context.Background(), append([]string{"upgradeplan", "sim"}, tc.args...), &stdout, &stderr)
			if code != ExitInvalid || !strings.Contains(stderr.String(), tc.wantErr) {
				t.Errorf("exit %d, stderr %q; want exit 1 and %q", code, stderr.String(), tc.wantErr)
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout %q, want nothing", stdout.String())
			}
		})
	}
}
