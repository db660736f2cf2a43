package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/upgradeplan/upgradeplan/manifest"
)

func TestErrorsMapToExitCodesAndOneLinePerProblem(t *testing.T) {
	problems := manifest.Problems{
		{Pos: manifest.Pos{File: "f.yaml", Line: 3, Col: 7}, Path: "targets[0].kind", Message: "must be one of ..."},
		{Pos: manifest.Pos{File: "f.yaml", Line: 9, Col: 1}, Message: "invalid YAML: bad"},
	}
	tests := []struct {
		name     string
		err      error
		wantCode int
		wantErr  string
	}{
		{"success exits 0 and prints nothing", nil, ExitOK, ""},
		{"a plain error exits 1 with the program name", errors.New("cannot read plan"), ExitInvalid, "upgradeplan: cannot read plan\n"},
		{"a stopped run exits 3", exitError(ExitStopped, errors.New("window closed")), ExitStopped, "upgradeplan: window closed\n"},
		{"a wrapped exit error keeps its code", fmt.Errorf("apply: %w", exitError(ExitLocked, errors.New("held by pid 42"))), ExitLocked, "upgradeplan: apply: held by pid 42\n"},
		{"an exit code without an error prints nothing", exitError(ExitFailed, nil), ExitFailed, ""},
		{"urfave's own exit errors keep their code", cli.Exit("refused", ExitRefused), ExitRefused, "upgradeplan: refused\n"},
		{"manifest problems print as FILE:LINE:COL lines without a prefix", exitError(ExitInvalid, problems), ExitInvalid,
			"f.yaml:3:7: targets[0].kind: must be one of ...\nf.yaml:9:1: invalid YAML: bad\n"},
		{"a multi-line error gets the prefix on every line", errors.New("first\nsecond"), ExitInvalid, "upgradeplan: first\nupgradeplan: second\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr bytes.Buffer
			if got := printExit(&stderr, tt.err); got != tt.wantCode {
				t.Errorf("exit code = %d, want %d", got, tt.wantCode)
			}
			if stderr.String() != tt.wantErr {
				t.Errorf("stderr = %q, want %q", stderr.String(), tt.wantErr)
			}
		})
	}
}

func TestACommandsExitCodeReachesTheCaller(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := runWith(context.Background(), []string{"upgradeplan", "validate", "/nonexistent/fleet.yaml"}, &stdout, &stderr)
	if code != ExitInvalid {
		t.Fatalf("exit code = %d, want %d (stderr %q)", code, ExitInvalid, stderr.String())
	}
	if want := "/nonexistent/fleet.yaml: cannot read: no such file or directory\n"; stderr.String() != want {
		t.Errorf("stderr = %q, want %q", stderr.String(), want)
	}
}

func TestFirstSignalCancelsTheContextSecondClosesSecond(t *testing.T) {
	incoming := make(chan os.Signal)
	stopped := false
	sig := newSignals(context.Background(), incoming, func() { stopped = true })

	select {
	case <-sig.Context().Done():
		t.Fatal("context cancelled before any signal")
	default:
	}
	incoming <- syscall.SIGTERM
	select {
	case <-sig.Context().Done():
	case <-time.After(5 * time.Second):
		t.Fatal("first signal did not cancel the context")
	}
	if got := context.Cause(sig.Context()).Error(); got != "terminated (SIGTERM)" {
		t.Errorf("cause = %q, want it to name the signal", got)
	}
	select {
	case <-sig.Second():
		t.Fatal("Second closed after only one signal")
	default:
	}
	incoming <- os.Interrupt
	select {
	case <-sig.Second():
	case <-time.After(5 * time.Second):
		t.Fatal("second signal did not close Second")
	}
	sig.Close()
	if !stopped {
		t.Error("Close did not stop signal delivery")
	}
}

func TestCommandsFindTheSignalWatcherInTheirContext(t *testing.T) {
	incoming := make(chan os.Signal)
	sig := newSignals(context.Background(), incoming, func() {})
	defer sig.Close()
	ctx := context.WithValue(sig.Context(), signalsKey{}, sig)
	if signalsFrom(ctx) != sig {
		t.Fatal("signalsFrom did not return the watcher run attached")
	}
	if signalsFrom(context.Background()) != nil {
		t.Fatal("signalsFrom invented a watcher")
	}
}
