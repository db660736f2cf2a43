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
	json    bool // log mode writes JSON lines
	redact  *strings.Replacer
	secrets []string  // what redact replaces
	drawn   bool      // a live line is on screen
	lastAt  time.Time // event time of the last redraw
	pending *executor.Event
	last    *executor.Event // the newest event, redrawn by Tick
	start   time.Time       // when the run started, for the elapsed time
	width   func() int      // the terminal's columns; nil or <= 0: no limit
}

// NewProgress returns a progress display writing to w (stderr). tty selects the live line
// (golang.org/x/term.IsTerminal on stderr); otherwise format is LogText or LogJSON (anything
// else is treated as text; validate flags with CheckLogFormat).
func NewProgress(w io.Writer, tty bool, format string) *Progress {
	p := &Progress{w: w, tty: tty}
	if !tty {
		opts := &slog.HandlerOptions{Level: slog.LevelDebug}
		if format == LogJSON {
			p.json = true
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
	p.secrets = p.secrets[:0]
	for _, s := range secrets {
		if s != "" {
			pairs = append(pairs, s, "***")
			p.secrets = append(p.secrets, s)
		}
	}
	if len(pairs) > 0 {
		p.redact = strings.NewReplacer(pairs...)
	}
}

// clean redacts s. Most strings hold no secret: a search for each (strings.Contains) is
// several times cheaper than the replacer's walk of every byte, and a line is cleaned
// field by field at every transition.
func (p *Progress) clean(s string) string {
	if p.redact == nil {
		return s
	}
	for _, secret := range p.secrets {
		if strings.Contains(s, secret) {
			return p.redact.Replace(s)
		}
	}
	return s
}

// SetStart sets when the run started: the live line shows the time elapsed since then.
// Without it the first event's time is the start.
func (p *Progress) SetStart(t time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.start = t
}

// SetWidth gives the live line the terminal's width (read at every redraw, so a resized
// terminal is followed): a longer line is cut, never wrapped, because a wrapped line cannot
// be redrawn in place and smears one copy per update.
func (p *Progress) SetWidth(columns func() int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.width = columns
}

// Tick redraws the live line at now, so the elapsed time moves and the ETA counts down
// between step transitions; apply calls it every second. It does nothing in log mode or
// before the first event.
func (p *Progress) Tick(now time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.tty || p.last == nil {
		return
	}
	if p.pending != nil {
		p.last = p.pending
	}
	p.drawAt(*p.last, now)
}

// Notice prints a message people must see now, such as what happens after a first
// interrupt or a warning: a permanent line above the live line on a terminal, a JSON warning
// line with --log-format json, and a plain "upgradeplan: MSG" line in text log mode (as every
// other command prints its warnings).
func (p *Progress) Notice(msg string, attrs ...slog.Attr) {
	if !p.tty && !p.json {
		p.mu.Lock()
		defer p.mu.Unlock()
		fmt.Fprintf(p.w, "upgradeplan: %s\n", oneLine(p.clean(msg)))
		return
	}
	p.Log(slog.LevelWarn, msg, attrs...)
}

// Log writes one line that is not a step transition (run started, run finished, the
// error that ended apply): a slog record in log mode, so that with --log-format json every
// line on stderr is JSON; on a terminal the message and its attributes as one permanent
// line above the live line.
func (p *Progress) Log(level slog.Level, msg string, attrs ...slog.Attr) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := range attrs {
		attrs[i] = p.cleanAttr(attrs[i])
	}
	msg = p.clean(msg)
	if !p.tty {
		r := slog.NewRecord(time.Now(), level, msg, 0)
		r.AddAttrs(attrs...)
		_ = p.handler.Handle(context.Background(), r)
		return
	}
	redraw := p.drawn
	p.clearLine()
	fmt.Fprintf(p.w, "upgradeplan: %s\n", oneLine(msg))
	if redraw && p.last != nil {
		p.drawAt(*p.last, time.Time{})
	}
}

func (p *Progress) cleanAttr(a slog.Attr) slog.Attr {
	if a.Value.Kind() == slog.KindString {
		a.Value = slog.StringValue(p.clean(a.Value.String()))
	}
	return a
}

// Event records one step transition.
func (p *Progress) Event(ev executor.Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.start.IsZero() && !ev.Time.IsZero() {
		p.start = ev.Time
	}
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

func (p *Progress) draw(ev executor.Event) { p.drawAt(ev, time.Time{}) }

// drawAt draws ev as of now (zero: the event's own time). Between events the ETA counts
// down by the time passed since the event, down to a floor of one second while work is left.
func (p *Progress) drawAt(ev executor.Event, now time.Time) {
	p.pending = nil
	e := ev
	p.last = &e
	if now.IsZero() {
		now = ev.Time
	}
	c := ev.Progress
	line := fmt.Sprintf("upgradeplan: %s/%s done · %s failed · %s in flight · %s throttled",
		thousands(c.Done), thousands(c.Total), thousands(c.Failed), thousands(c.InFlight), thousands(c.Throttled))
	if !p.start.IsZero() && !now.IsZero() && now.After(p.start) {
		line += " · " + elapsed(now.Sub(p.start)) + " elapsed"
	}
	if c.ETA > 0 && c.Done < c.Total {
		left := c.ETA
		if !ev.Time.IsZero() && now.After(ev.Time) {
			left = max(c.ETA-now.Sub(ev.Time), time.Second)
		}
		line += " · ETA " + eta(left)
	}
	if p.width != nil {
		line = fit(line, p.width())
	}
	fmt.Fprintf(p.w, "\r\x1b[K%s", line)
	p.drawn = true
	p.lastAt = ev.Time
}

// fit cuts line to fewer than columns runes (the last column is left free: a line that
// fills it wraps on some terminals), ending in "…" when cut.
func fit(line string, columns int) string {
	if columns <= 0 {
		return line
	}
	r := []rune(line)
	if len(r) < columns {
		return line
	}
	if columns < 2 {
		return ""
	}
	return string(r[:columns-2]) + "…"
}

// elapsed prints a duration to the second: 45s, 3m07s, 1h02m03s.
func elapsed(d time.Duration) string {
	d = d.Round(time.Second)
	h, m, s := int(d.Hours()), int(d.Minutes())%60, int(d.Seconds())%60
	switch {
	case h > 0:
		return fmt.Sprintf("%dh%02dm%02ds", h, m, s)
	case m > 0:
		return fmt.Sprintf("%dm%02ds", m, s)
	}
	return fmt.Sprintf("%ds", s)
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
