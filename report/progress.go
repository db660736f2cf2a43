package report

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/upgradeplan/upgradeplan/executor"
)

// Log formats for NewProgress when the output is not a terminal.
const (
	LogText = "text"
	LogJSON = "json"
)

// CheckLogFormat returns an error for a --log-format value other than text or json.
func CheckLogFormat(format string) error {
	if format == LogText || format == LogJSON {
		return nil
	}
	return fmt.Errorf("--log-format %q: must be %q or %q", format, LogText, LogJSON)
}

// redrawEvery limits how often the live line is redrawn; a finished run is always drawn.
const redrawEvery = 100 * time.Millisecond

// Progress shows a running apply. On a terminal it keeps one live line on w, redrawn in
// place (done/total, failed, in flight, throttled, ETA), and prints a permanent line for each
// failure above it. Otherwise it writes one log/slog line per step transition, as text or
// JSON. It is safe for concurrent use.
type Progress struct {
	mu      sync.Mutex
	w       io.Writer
	tty     bool
	handler slog.Handler
	redact  *strings.Replacer
	drawn   bool      // a live line is on screen
	lastAt  time.Time // event time of the last redraw
	pending *executor.Event
}

// NewProgress returns a progress display writing to w (stderr). tty selects the live line
// (golang.org/x/term.IsTerminal on stderr); otherwise format is LogText or LogJSON (anything
// else is treated as text; validate flags with CheckLogFormat).
func NewProgress(w io.Writer, tty bool, format string) *Progress {
	p := &Progress{w: w, tty: tty}
	if !tty {
		opts := &slog.HandlerOptions{Level: slog.LevelDebug}
		if format == LogJSON {
			p.handler = slog.NewJSONHandler(w, opts)
		} else {
			p.handler = slog.NewTextHandler(w, opts)
		}
	}
	return p
}

// Redact replaces each of the given values with "***" in everything Progress writes. Events
// carry no secrets, but a cloud's error message may echo a parameter; apply passes the
// resolved secret values here as a second line of defence.
func (p *Progress) Redact(secrets ...string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var pairs []string
	for _, s := range secrets {
		if s != "" {
			pairs = append(pairs, s, "***")
		}
	}
	if len(pairs) > 0 {
		p.redact = strings.NewReplacer(pairs...)
	}
}

func (p *Progress) clean(s string) string {
	if p.redact != nil {
		s = p.redact.Replace(s)
	}
	return s
}

// Event records one step transition.
func (p *Progress) Event(ev executor.Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.tty {
		p.logLine(ev)
		return
	}
	if ev.Status == executor.StatusFailed {
		p.clearLine()
		fmt.Fprintf(p.w, "failed: %s: %s\n", p.clean(ev.Step), p.clean(oneLine(ev.Message)))
		p.draw(ev)
		return
	}
	final := ev.Progress.Total > 0 && ev.Progress.Done >= ev.Progress.Total
	if !final && p.drawn && ev.Time.Sub(p.lastAt) < redrawEvery {
		p.pending = &ev
		return
	}
	p.draw(ev)
}

// Close ends the live line (drawing the last state seen) so later output starts on a new
// line. It writes nothing in log mode.
func (p *Progress) Close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.tty {
		return
	}
	if p.pending != nil {
		p.draw(*p.pending)
	}
	if p.drawn {
		fmt.Fprint(p.w, "\n")
		p.drawn = false
	}
}

func (p *Progress) draw(ev executor.Event) {
	p.pending = nil
	c := ev.Progress
	line := fmt.Sprintf("upgradeplan: %s/%s done · %s failed · %s in flight · %s throttled",
		thousands(c.Done), thousands(c.Total), thousands(c.Failed), thousands(c.InFlight), thousands(c.Throttled))
	if c.ETA > 0 && c.Done < c.Total {
		line += " · ETA " + eta(c.ETA)
	}
	fmt.Fprintf(p.w, "\r\x1b[K%s", line)
	p.drawn = true
	p.lastAt = ev.Time
}

func (p *Progress) clearLine() {
	if p.drawn {
		fmt.Fprint(p.w, "\r\x1b[K")
		p.drawn = false
	}
}

func (p *Progress) logLine(ev executor.Event) {
	level := slog.LevelInfo
	switch ev.Status {
	case executor.StatusFailed:
		level = slog.LevelError
	case executor.StatusSkipped, executor.StatusDrifted, executor.StatusNotStarted, executor.StatusCancelled:
		level = slog.LevelWarn
	}
	t := ev.Time
	if t.IsZero() {
		t = time.Now()
	}
	r := slog.NewRecord(t, level, "step "+string(ev.Status), 0)
	r.AddAttrs(
		slog.String("step", p.clean(ev.Step)),
		slog.String("target", p.clean(ev.Target)),
		slog.String("instance", p.clean(ev.Instance)),
		slog.String("status", string(ev.Status)),
	)
	if ev.Message != "" {
		r.AddAttrs(slog.String("message", p.clean(ev.Message)))
	}
	c := ev.Progress
	r.AddAttrs(slog.Int("done", c.Done), slog.Int("total", c.Total), slog.Int("failed", c.Failed),
		slog.Int("in_flight", c.InFlight), slog.Int("throttled", c.Throttled))
	_ = p.handler.Handle(context.Background(), r)
}

func eta(d time.Duration) string {
	d = d.Round(time.Second)
	if d < time.Second {
		return "<1s"
	}
	return d.String()
}

func oneLine(s string) string { return strings.Join(strings.Fields(dropControls(s)), " ") }
