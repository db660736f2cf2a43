package executor

// This file keeps the run's limits: the change window, the failure budget and the stop
// (first signal, window cutoff, failure budget, journal failure). Once stopped, no call
// starts: waits for slots, gates, busy instances and rate-limit tokens end, and the send
// guard refuses a call that was about to go out.

import (
	"context"
	"fmt"
	"time"

	"github.com/upgradeplan/upgradeplan/planner"
)

// window is the change window of this segment: the operator's override, or the plan's.
func (r *run) window() *planner.Window {
	if r.segment.Window != nil {
		return r.segment.Window
	}
	return r.plan.Settings.Window
}

// windowOverride turns Options.Window into this segment's window, keeping the plan's cutoff.
func windowOverride(plan *planner.Plan, opts Options) *planner.Window {
	if opts.Window == nil {
		return nil
	}
	w := *opts.Window
	if plan.Settings.Window != nil && w.Cutoff == 0 {
		w.Cutoff = plan.Settings.Window.Cutoff
	}
	return &w
}

func cutoffReason(w *planner.Window) string {
	closeAt := w.End.Add(-time.Duration(w.Cutoff))
	return fmt.Sprintf("window cutoff: no step starts after %s (window end %s minus cutoff %s)",
		closeAt.UTC().Format(time.RFC3339), w.End.UTC().Format(time.RFC3339), time.Duration(w.Cutoff))
}

// waitWindow waits for the window to open (or the run to stop). It reports whether it had
// to wait.
func (r *run) waitWindow(ctx context.Context) (waited bool) {
	w := r.window()
	if w == nil {
		return false
	}
	d := time.Until(w.Start)
	if d <= 0 {
		return false
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-r.stopCh:
	case <-ctx.Done():
	}
	return true
}

// mayStart says why no call may start now ("" when one may): the run stopped, or the
// window is not open. A window that closed stops the run.
func (r *run) mayStart() string {
	if why, ok := r.stopped(); ok {
		return why
	}
	w := r.window()
	if w == nil {
		return ""
	}
	now := time.Now()
	if now.Before(w.Start) {
		return "the change window opens at " + w.Start.UTC().Format(time.RFC3339)
	}
	if !now.Before(w.End.Add(-time.Duration(w.Cutoff))) {
		why := cutoffReason(w)
		r.stop(why)
		return why
	}
	return ""
}

// stop makes the run start no more calls; the first reason is kept.
func (r *run) stop(why string) {
	r.stopOnce.Do(func() {
		r.mu.Lock()
		r.stopWhy = why
		r.stopAt = time.Now()
		r.mu.Unlock()
		close(r.stopCh)
		r.stopCancel()
	})
}

func (r *run) stopped() (string, bool) {
	select {
	case <-r.stopCh:
		r.mu.Lock()
		defer r.mu.Unlock()
		return r.stopWhy, true
	default:
		return "", false
	}
}

// countFailure counts a step that failed in this segment and stops the run once the
// failure budget is exceeded (caller holds r.mu).
func (r *run) countFailure() (stopWhy string) {
	r.failures++
	if r.budget >= 0 && r.failures > r.budget {
		return fmt.Sprintf("failure budget exceeded: %d failures, max_failures %s", r.failures, r.plan.Settings.MaxFailures)
	}
	return ""
}

// journalFailed stops the run: no call may go out without its intent on disk.
func (r *run) journalFailed(err error) {
	r.mu.Lock()
	if r.journalErr == nil {
		r.journalErr = err
	}
	r.mu.Unlock()
	r.stop("the journal could not be written (" + err.Error() + "): no call is sent without its intent on disk; resume once the disk is writable")
}
