package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/upgradeplan/upgradeplan/cloudsim"
	"github.com/upgradeplan/upgradeplan/cloudsim/sim"
)

func simCommand() *cli.Command {
	return &cli.Command{
		Name:  "sim",
		Usage: "serve the simulated clouds (Alibaba RPC and Tencent API 3.0) on a loopback port",
		Description: "Loads the state file (accounts, qps, durations, one section per product) and\n" +
			"   answers the real SDKs until SIGINT or SIGTERM. The first line on stdout is\n" +
			"   \"listening on HOST:PORT\": point UPGRADEPLAN_ALIBABA_ENDPOINT and\n" +
			"   UPGRADEPLAN_TENCENT_ENDPOINT at it. GET /_sim/calls lists every call received (secret\n" +
			"   parameters masked), GET /_sim/applied every change the simulator made (request id,\n" +
			"   ClientToken, from/to, whether its answer was lost), GET /_sim/state the current state.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "state", Usage: "simulator state `FILE` (YAML)"},
			&cli.StringFlag{Name: "listen", Value: "127.0.0.1:0", Usage: "`ADDR` to listen on (port 0 picks a free one)"},
			&cli.StringFlag{Name: "faults", Usage: "faults `FILE` (YAML; see examples/sim/faults.yaml)"},
			&cli.Float64Flag{Name: "time-scale", Value: 1, Usage: "simulated seconds per real second (60: a 30-minute upgrade takes 30 s)"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return exitError(ExitInvalid, usageError{errTooManyArgs(c)})
			}
			if scale := c.Float64("time-scale"); scale <= 0 {
				return exitError(ExitInvalid, usageError{fmt.Errorf("sim: --time-scale must be positive, got %v", scale)})
			}
			if c.String("state") == "" {
				return exitError(ExitInvalid, usageError{errors.New("sim: --state FILE is required")})
			}
			state, err := os.ReadFile(c.String("state"))
			if err != nil {
				return exitError(ExitInvalid, fmt.Errorf("sim: %w", err))
			}
			var faults []byte
			if f := c.String("faults"); f != "" {
				if faults, err = os.ReadFile(f); err != nil {
					return exitError(ExitInvalid, fmt.Errorf("sim: %w", err))
				}
			}
			srv, err := cloudsim.New(state, sim.Options{TimeScale: c.Float64("time-scale"), Faults: faults})
			if err != nil {
				// err starts "sim: state:" or "sim: faults:"; name the files it came from.
				files := c.String("state")
				if c.String("faults") != "" {
					files += ", " + c.String("faults")
				}
				return exitError(ExitInvalid, fmt.Errorf("%s: %w", files, err))
			}
			ln, err := net.Listen("tcp", c.String("listen"))
			if err != nil {
				return exitError(ExitInvalid, fmt.Errorf("sim: %w", err))
			}
			fmt.Fprintf(c.App.Writer, "listening on %s\n", ln.Addr())
			return serveSim(c.Context, ln, srv)
		},
	}
}

// serveSim serves until ctx is cancelled, then lets calls in flight finish (up to five
// seconds) and returns nil: a signal is how the simulator is meant to stop.
func serveSim(ctx context.Context, ln net.Listener, h http.Handler) error {
	hs := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	select {
	case err := <-served:
		return fmt.Errorf("sim: %w", err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := hs.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("sim: shut down: %w", err)
	}
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("sim: %w", err)
	}
	return nil
}
