package executor

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/upgradeplan/upgradeplan/provider"
)

// Every transition of the step machine, one row each: state and input in, next state,
// journal entries and action out. No goroutine, timer or network.
func TestStepMachineTransitions(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	cfg := machineConfig{Timeout: time.Hour, Grace: time.Minute, MaxAttempts: 3, ChainTo: provider.Values{"v": "2"}}
	inPlace := cfg
	inPlace.InPlace = true
	inPlace.MaxGap = 2 * time.Second
	deferred := cfg
	deferred.Deferred = true
	dry := cfg
	dry.DryRun = true
	apiDry := dry
	apiDry.APIDryRun = true
	obs := func(st provider.State) provider.Progress {
		return provider.Progress{State: st, Observed: provider.Values{"v": "1"}}
	}
	done := provider.Progress{State: provider.StateDone, Observed: provider.Values{"v": "2"}}
	pending := machine{Phase: PhasePending}
	waiting := machine{Phase: PhaseWaiting, LookFrom: t0}
	sendingM := machine{Phase: PhaseSending, Attempt: 1, CallAt: t0}
	maybe := machine{Phase: PhaseMaybeSent, Attempt: 1, MaySent: true, CallAt: t0}
	acc := machine{Phase: PhaseAccepted, Attempt: 1, MaySent: true, CallAt: t0, Since: t0}
	perm := &provider.Error{Class: provider.ClassPermanent, Code: "InvalidParameter"}
	throttled := &provider.Error{Class: provider.ClassThrottled, Code: "Throttling"}
	lost := &provider.Error{Class: provider.ClassUnknown, Message: "connection reset"}
	fiveXX := &provider.Error{Class: provider.ClassRetryable, Code: "InternalError"}
	busy := &provider.Error{Class: provider.ClassBusy, Code: "InstanceUpgradeOrDownGradeTopicMigrating"}
	nothing := &provider.Error{Class: provider.ClassNoChange, Code: "ONS_INIT_ENV_ERROR", RequestID: "req-n"}
	watched := machine{Phase: PhaseMaybeSent, Attempt: 1, MaySent: true, CallAt: t0, WatchedAt: at(time.Minute - time.Second)}

	rows := []struct {
		name    string
		m       machine
		cfg     machineConfig
		in      input
		phase   Phase
		status  Status // in PhaseFinal
		entries []string
		act     act
		reason  string // part of the reason, or of the error's message
	}{
		{"pending, instance ready: intent, then send", pending, cfg, input{Kind: inLook, At: t0, P: obs(provider.StatePending)}, PhaseSending, "", []string{EntryIntent}, actSend, ""},
		{"pending, instance at to: noop", pending, cfg, input{Kind: inLook, At: t0, P: done}, PhaseFinal, StatusNoop, nil, actEnd, "already shows"},
		{"pending, instance at the chain's final to: noop", pending, machineConfig{ChainTo: provider.Values{"v": "1"}}, input{Kind: inLook, At: t0, P: obs(provider.StateDrifted)}, PhaseFinal, StatusNoop, nil, actEnd, ""},
		{"pending after an earlier maybe-sent call, instance at to: succeeded, answer lost", machine{Phase: PhasePending, MaySent: true}, cfg, input{Kind: inLook, At: t0, P: done}, PhaseFinal, StatusSucceeded, nil, actEnd, "answer was lost"},
		{"pending, from no longer matches: drifted", pending, cfg, input{Kind: inLook, At: t0, P: obs(provider.StateDrifted)}, PhaseFinal, StatusDrifted, nil, actEnd, ""},
		{"pending, instance gone: drifted", pending, cfg, input{Kind: inLook, At: t0, P: obs(provider.StateMissing)}, PhaseFinal, StatusDrifted, nil, actEnd, ""},
		{"pending, instance failed: failed without a call", pending, cfg, input{Kind: inLook, At: t0, P: obs(provider.StateFailed)}, PhaseFinal, StatusFailed, nil, actEnd, ""},
		{"pending, instance busy: waiting, slot given back", pending, cfg, input{Kind: inLook, At: t0, P: obs(provider.StateWaiting)}, PhaseWaiting, "", nil, actWaitReady, ""},
		{"pending, ready but the run is stopping: not started", pending, cfg, input{Kind: inLook, At: t0, P: obs(provider.StatePending), Stopping: true, Why: "window cutoff"}, PhaseFinal, StatusNotStarted, nil, actEnd, "window cutoff"},
		{"pending, dry run: succeeded, nothing sent", pending, dry, input{Kind: inLook, At: t0, P: obs(provider.StatePending)}, PhaseFinal, StatusSucceeded, nil, actEnd, "dry run"},
		{"pending, the API's dry run: sent without an intent", pending, apiDry, input{Kind: inLook, At: t0, P: obs(provider.StatePending)}, PhaseSending, "", nil, actSend, ""},
		{"pending, a look failed: look again", pending, cfg, input{Kind: inLookFailed, At: t0, Err: errors.New("timeout")}, PhasePending, "", nil, actAcquire, ""},
		{"pending, looks failing for stepTimeout: failed", machine{Phase: PhasePending, LookFrom: t0}, cfg, input{Kind: inLookFailed, At: at(time.Hour), Err: errors.New("timeout")}, PhaseFinal, StatusFailed, nil, actEnd, "could not observe"},
		{"pending, stop: not started", pending, cfg, input{Kind: inStop, At: t0, Why: "interrupted"}, PhaseFinal, StatusNotStarted, nil, actEnd, "interrupted"},
		{"pending, second signal: cancelled, not sent", pending, cfg, input{Kind: inHard, At: t0}, PhaseFinal, StatusCancelled, nil, actEnd, "before the call was sent"},
		{"pending after a throttled call, second signal: cancelled, saying the call was sent and refused", machine{Phase: PhasePending, Attempt: 1}, cfg, input{Kind: inHard, At: t0}, PhaseFinal, StatusCancelled, nil, actEnd, "attempt 1 was sent and refused"},
		{"pending after a lost answer, second signal: cancelled, in doubt", machine{Phase: PhasePending, Attempt: 1, MaySent: true}, cfg, input{Kind: inHard, At: t0}, PhaseFinal, StatusCancelled, nil, actEnd, "may have reached the cloud"},
		{"waiting, instance ready: back in line for a slot", waiting, cfg, input{Kind: inLook, At: at(time.Minute), P: obs(provider.StatePending)}, PhasePending, "", nil, actAcquire, ""},
		{"waiting, still busy: keep waiting", waiting, cfg, input{Kind: inLook, At: at(time.Minute), P: obs(provider.StateWaiting)}, PhaseWaiting, "", nil, actWaitReady, ""},
		{"waiting, busy past stepTimeout: failed, not sent", waiting, cfg, input{Kind: inLook, At: at(time.Hour), P: obs(provider.StateWaiting)}, PhaseFinal, StatusFailed, nil, actEnd, "still busy"},
		{"waiting, another actor finished the change: noop", waiting, cfg, input{Kind: inLook, At: at(time.Minute), P: done}, PhaseFinal, StatusNoop, nil, actEnd, ""},
		{"waiting, stop: not started", waiting, cfg, input{Kind: inStop, At: t0, Why: "budget"}, PhaseFinal, StatusNotStarted, nil, actEnd, "budget"},
		{"sending, accepted: result, follow", sendingM, cfg, input{Kind: inAnswer, At: t0, Receipt: provider.Receipt{RequestID: "r1"}}, PhaseAccepted, "", []string{EntryResult}, actPoll, ""},
		{"sending, permanent error: failed", sendingM, cfg, input{Kind: inAnswer, At: t0, Err: perm}, PhaseFinal, StatusFailed, []string{EntryResult}, actEnd, "InvalidParameter"},
		{"sending, throttled: nothing happened, back off and judge again", sendingM, cfg, input{Kind: inAnswer, At: t0, Err: throttled}, PhasePending, "", []string{EntryResult}, actBackoff, ""},
		{"sending, throttled on the last attempt: failed", machine{Phase: PhaseSending, Attempt: 3}, cfg, input{Kind: inAnswer, At: t0, Err: throttled}, PhaseFinal, StatusFailed, []string{EntryResult}, actEnd, "gave up"},
		{"sending, refused as busy: nothing happened, wait as for a busy instance", sendingM, cfg, input{Kind: inAnswer, At: t0, Err: busy}, PhaseWaiting, "", []string{EntryResult}, actWaitReady, ""},
		{"sending, refused as busy since stepTimeout: failed, not sent", machine{Phase: PhaseSending, Attempt: 4, Busy: 3, BusyFrom: t0}, cfg, input{Kind: inAnswer, At: at(time.Hour), Err: busy}, PhaseFinal, StatusFailed, []string{EntryResult}, actEnd, "refused the call as busy"},
		{"sending, throttled after busy refusals: they are no attempts, back off", machine{Phase: PhaseSending, Attempt: 3, Busy: 1}, cfg, input{Kind: inAnswer, At: t0, Err: throttled}, PhasePending, "", []string{EntryResult}, actBackoff, ""},
		{"sending, the look right before the call shows to (its verdict had aged): noop, not sent", sendingM, cfg, input{Kind: inRejudge, At: t0, P: done}, PhaseFinal, StatusNoop, nil, actEnd, "already shows"},
		{"sending, the look right before the call shows it busy: waiting, not sent", sendingM, cfg, input{Kind: inRejudge, At: t0, P: obs(provider.StateWaiting)}, PhaseWaiting, "", nil, actWaitReady, ""},
		{"sending, the look right before the call failed: back in line, not sent", sendingM, cfg, input{Kind: inRejudge, At: t0, Err: errors.New("timeout")}, PhasePending, "", nil, actAcquire, ""},
		{"sending a resend, the look right before it shows it busy: accepted (a sign of the earlier call)", machine{Phase: PhaseSending, Attempt: 2, MaySent: true, Resend: true, CallAt: t0}, cfg, input{Kind: inRejudge, At: at(time.Minute), P: obs(provider.StateInProgress)}, PhaseAccepted, "", nil, actPoll, ""},
		{"sending in place, refused as having nothing to do: noop, the answer on record", sendingM, inPlace, input{Kind: inAnswer, At: t0, Err: nothing}, PhaseFinal, StatusNoop, []string{EntryResult}, actEnd, "ONS_INIT_ENV_ERROR"},
		{"resending in place after a lost answer, refused as having nothing to do: succeeded, the first call may have made it", machine{Phase: PhaseSending, Attempt: 2, MaySent: true, CallAt: t0}, inPlace, input{Kind: inAnswer, At: t0, Err: nothing}, PhaseFinal, StatusSucceeded, []string{EntryResult}, actEnd, "earlier call's answer was lost"},
		{"sending a change of values, refused as having nothing to do: failed, permanent (the instance showed from)", sendingM, cfg, input{Kind: inAnswer, At: t0, Err: nothing}, PhaseFinal, StatusFailed, []string{EntryResult}, actEnd, "does not show"},
		{"sending, answer lost: maybe sent", sendingM, cfg, input{Kind: inAnswer, At: t0, Err: lost}, PhaseMaybeSent, "", []string{EntryResult}, actLook, ""},
		{"sending, 5xx: maybe sent", sendingM, cfg, input{Kind: inAnswer, At: t0, Err: fiveXX}, PhaseMaybeSent, "", []string{EntryResult}, actLook, ""},
		{"sending, not sent (stop before the call): not started", sendingM, cfg, input{Kind: inNotSent, At: t0, Why: "interrupted"}, PhaseFinal, StatusNotStarted, nil, actEnd, "interrupted"},
		{"sending, a throttled call's resend not sent: result closes the intent", sendingM, cfg, input{Kind: inNotSent, At: t0, Why: "interrupted", Written: true}, PhaseFinal, StatusNotStarted, []string{EntryResult}, actEnd, ""},
		{"sending, API dry run accepted: succeeded", machine{Phase: PhaseSending}, apiDry, input{Kind: inAnswer, At: t0}, PhaseFinal, StatusSucceeded, nil, actEnd, "dry run"},
		{"sending, stop: the call is on its way, keep it", sendingM, cfg, input{Kind: inStop, At: t0}, PhaseSending, "", nil, actPoll, ""},
		{"sending, second signal: cancelled, sent", sendingM, cfg, input{Kind: inHard, At: t0}, PhaseFinal, StatusCancelled, nil, actEnd, "was sent"},
		{"maybe sent, untouched within the grace: watch at the polling cadence", maybe, cfg, input{Kind: inLook, At: at(time.Second), P: obs(provider.StatePending)}, PhaseMaybeSent, "", nil, actLook, ""},
		{"maybe sent, untouched for the grace: intent, send again", maybe, cfg, input{Kind: inLook, At: at(time.Minute), P: obs(provider.StatePending)}, PhaseSending, "", []string{EntryIntent}, actSend, ""},
		{"maybe sent, untouched for the grace on the last attempt: failed", machine{Phase: PhaseMaybeSent, Attempt: 3, CallAt: t0}, cfg, input{Kind: inLook, At: at(time.Minute), P: obs(provider.StatePending)}, PhaseFinal, StatusFailed, nil, actEnd, "gave up"},
		{"maybe sent, untouched for the grace while stopping: cancelled in doubt, not resent", maybe, cfg, input{Kind: inLook, At: at(time.Minute), P: obs(provider.StatePending), Stopping: true, Why: "interrupted"}, PhaseFinal, StatusCancelled, nil, actEnd, "not sent again"},
		{"sending a resend after a lost answer, not sent (stop): cancelled in doubt", machine{Phase: PhaseSending, Attempt: 2, MaySent: true}, cfg, input{Kind: inNotSent, At: t0, Why: "window cutoff"}, PhaseFinal, StatusCancelled, nil, actEnd, "attempt 1 may have been sent"},
		{"maybe sent, busy: accepted", maybe, cfg, input{Kind: inLook, At: at(time.Second), P: obs(provider.StateWaiting)}, PhaseAccepted, "", nil, actPoll, ""},
		{"maybe sent, at to: succeeded, answer lost", maybe, cfg, input{Kind: inLook, At: at(time.Second), P: done}, PhaseFinal, StatusSucceeded, nil, actEnd, "answer was lost"},
		{"maybe sent, in place and showing to: untouched", maybe, inPlace, input{Kind: inLook, At: at(time.Second), P: done}, PhaseMaybeSent, "", nil, actLook, ""},
		{"maybe sent in place, watched over the whole grace and untouched: intent, send again", watched, inPlace, input{Kind: inLook, At: at(time.Minute), P: obs(provider.StatePending)}, PhaseSending, "", []string{EntryIntent}, actSend, ""},
		{"maybe sent in place, looks too far apart (a crash, failing reads): failed in doubt, never resent", maybe, inPlace, input{Kind: inLook, At: at(time.Minute), P: obs(provider.StatePending)}, PhaseFinal, StatusFailed, nil, actEnd, "may have changed unseen"},
		{"maybe sent, a failure rolls back without a trace, not watched over the grace and untouched: failed in doubt, never resent", maybe, machineConfig{Timeout: time.Hour, Grace: time.Minute, MaxAttempts: 3, MaxGap: 2 * time.Second, Traceless: true}, input{Kind: inLook, At: at(time.Minute), P: obs(provider.StatePending)}, PhaseFinal, StatusFailed, nil, actEnd, "rolls back without a trace"},
		{"maybe sent, deferred to the maintenance window, watched over the whole grace and untouched: looked at again, never resent", watched, deferred, input{Kind: inLook, At: at(time.Minute), P: obs(provider.StatePending)}, PhaseMaybeSent, "", nil, actLook, ""},
		{"maybe sent, deferred, untouched at stepTimeout: failed in doubt, never resent", watched, deferred, input{Kind: inLook, At: at(time.Hour), P: obs(provider.StatePending)}, PhaseFinal, StatusFailed, nil, actEnd, "did not show within stepTimeout"},
		{"maybe sent, deferred, the window's upgrade under way: accepted", watched, deferred, input{Kind: inLook, At: at(time.Hour / 2), P: obs(provider.StateInProgress)}, PhaseAccepted, "", nil, actPoll, ""},
		{"maybe sent in place, a look after a gap within the grace: still watched at the cadence", maybe, inPlace, input{Kind: inLook, At: at(10 * time.Second), P: obs(provider.StatePending)}, PhaseMaybeSent, "", nil, actLook, ""},
		{"maybe sent, not in place, not watched over the grace and untouched: the change would show, send again", maybe, machineConfig{Timeout: time.Hour, Grace: time.Minute, MaxAttempts: 3, MaxGap: 2 * time.Second}, input{Kind: inLook, At: at(time.Minute), P: obs(provider.StatePending)}, PhaseSending, "", []string{EntryIntent}, actSend, ""},
		{"maybe sent, failed: failed", maybe, cfg, input{Kind: inLook, At: at(time.Second), P: obs(provider.StateFailed)}, PhaseFinal, StatusFailed, nil, actEnd, ""},
		{"maybe sent, neither from nor to: failed, unknown", maybe, cfg, input{Kind: inLook, At: at(time.Second), P: obs(provider.StateDrifted)}, PhaseFinal, StatusFailed, nil, actEnd, "neither from nor to"},
		{"maybe sent, reads failing: look again", maybe, cfg, input{Kind: inLookFailed, At: at(time.Second), Err: errors.New("timeout")}, PhaseMaybeSent, "", nil, actLook, ""},
		{"maybe sent, reads failing past stepTimeout: failed", machine{Phase: PhaseMaybeSent, Attempt: 1, CallAt: t0, LookFrom: t0}, cfg, input{Kind: inLookFailed, At: at(time.Hour), Err: errors.New("timeout")}, PhaseFinal, StatusFailed, nil, actEnd, "reconcile"},
		{"maybe sent, stop: keep following", maybe, cfg, input{Kind: inStop, At: t0}, PhaseMaybeSent, "", nil, actLook, ""},
		{"maybe sent, polls failed for the stop timeout: cancelled, in doubt", maybe, cfg, input{Kind: inStopTimeout, At: t0}, PhaseFinal, StatusCancelled, nil, actEnd, "in doubt"},
		{"accepted, at to: succeeded", acc, cfg, input{Kind: inPoll, At: at(time.Minute), P: done}, PhaseFinal, StatusSucceeded, nil, actEnd, ""},
		{"accepted, at to long after stepTimeout: succeeded", acc, cfg, input{Kind: inPoll, At: at(3 * time.Hour), P: done}, PhaseFinal, StatusSucceeded, nil, actEnd, ""},
		{"accepted, in progress: follow", acc, cfg, input{Kind: inPoll, At: at(time.Minute), P: obs(provider.StateInProgress)}, PhaseAccepted, "", nil, actPoll, ""},
		{"accepted, in progress past stepTimeout: failed", machine{Phase: PhaseAccepted, CallAt: t0, Observed: true}, cfg, input{Kind: inPoll, At: at(time.Hour), P: obs(provider.StateInProgress)}, PhaseFinal, StatusFailed, nil, actEnd, "stepTimeout"},
		{"accepted, product reports failure: failed", acc, cfg, input{Kind: inPoll, At: at(time.Minute), P: obs(provider.StateFailed)}, PhaseFinal, StatusFailed, nil, actEnd, ""},
		{"accepted, resumed past stepTimeout, first poll fails: no timeout before a look", acc, cfg, input{Kind: inLookFailed, At: at(3 * time.Hour), Err: errors.New("timeout")}, PhaseAccepted, "", nil, actPoll, ""},
		{"accepted, polls failing past stepTimeout after a look: failed", machine{Phase: PhaseAccepted, CallAt: t0, Observed: true, LookFrom: t0}, cfg, input{Kind: inLookFailed, At: at(time.Hour), Err: errors.New("timeout")}, PhaseFinal, StatusFailed, nil, actEnd, "stepTimeout"},
		{"accepted in place, at to but never seen busy within the grace: follow", acc, inPlace, input{Kind: inPoll, At: at(time.Second), P: done}, PhaseAccepted, "", nil, actPoll, ""},
		{"accepted in place, seen busy, then at to: succeeded", machine{Phase: PhaseAccepted, CallAt: t0, SeenBusy: true}, inPlace, input{Kind: inPoll, At: at(time.Second), P: done}, PhaseFinal, StatusSucceeded, nil, actEnd, ""},
		{"accepted in place, never seen busy, at to after the grace: succeeded, noted", acc, inPlace, input{Kind: inPoll, At: at(time.Minute), P: done}, PhaseFinal, StatusSucceeded, nil, actEnd, "never seen leaving running"},
		{"accepted after a lost answer, at to: succeeded, answer lost", machine{Phase: PhaseAccepted, CallAt: t0, AnswerLost: true}, cfg, input{Kind: inPoll, At: at(time.Minute), P: done}, PhaseFinal, StatusSucceeded, nil, actEnd, "answer was lost"},
		{"accepted, stop: keep following", acc, cfg, input{Kind: inStop, At: t0}, PhaseAccepted, "", nil, actPoll, ""},
		{"accepted, polls failed for the stop timeout: cancelled, in doubt", acc, cfg, input{Kind: inStopTimeout, At: t0}, PhaseFinal, StatusCancelled, nil, actEnd, "in doubt"},
		{"accepted, second signal: cancelled, resume follows it", acc, cfg, input{Kind: inHard, At: t0}, PhaseFinal, StatusCancelled, nil, actEnd, "resume follows it"},
		{"final, stop timeout: nothing changes", machine{Phase: PhaseFinal, Status: StatusSucceeded}, cfg, input{Kind: inStopTimeout, At: t0}, PhaseFinal, StatusSucceeded, nil, actEnd, ""},
	}
	for _, row := range rows {
		t.Run(row.name, func(t *testing.T) {
			m, entries, nx := advance(row.m, row.cfg, row.in)
			if m.Phase != row.phase || (row.phase == PhaseFinal && m.Status != row.status) {
				t.Errorf("-> %s %s (%q), want %s %s", m.Phase, m.Status, m.Reason, row.phase, row.status)
			}
			var types []string
			for _, e := range entries {
				types = append(types, e.Type)
			}
			if strings.Join(types, ",") != strings.Join(row.entries, ",") {
				t.Errorf("entries %v, want %v", types, row.entries)
			}
			if nx.Act != row.act {
				t.Errorf("act %d, want %d", nx.Act, row.act)
			}
			text := m.Reason
			if m.Error != nil {
				text += " " + m.Error.Message + " " + m.Error.Code
			}
			if !strings.Contains(text, row.reason) {
				t.Errorf("reason %q lacks %q", text, row.reason)
			}
			if row.in.Kind == inLook && m.Phase == PhaseSending && len(entries) == 1 && entries[0].Attempt != row.m.Attempt+1 {
				t.Errorf("intent attempt %d, want %d", entries[0].Attempt, row.m.Attempt+1)
			}
			if row.in.Kind == inRejudge && m.Attempt != row.m.Attempt-1 {
				t.Errorf("attempt %d after a call that did not go out, want %d", m.Attempt, row.m.Attempt-1)
			}
		})
	}
}
