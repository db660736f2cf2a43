package executor

import "maps"

// FoldJournal returns rec brought up to date with its run directory's journal (entries,
// ReadJournal's), for a record whose run has not finished: apply writes run.json when a
// segment starts, every recordEvery and when it ends, so the run.json a killed segment
// leaves behind can lag the journal, which holds every call's intent before the call and
// its result after it. Each step the journal speaks of is as a resume would start it:
// finished steps as they ended, a step whose call was accepted or may have been sent
// "running" with its attempts and request ids, every other step pending; the segments are
// the journal's, the last without an end record killed. Outcome.Reason says the record is
// folded and how to reconcile the run. A record with an outcome is returned as it is
// unless the journal's last segment has no end record, or the journal has segments the
// record lacks: a resumed segment killed before it first wrote run.json (or between its
// end entry and its last run.json) leaves the earlier segment's outcome there, which no
// longer holds.
func FoldJournal(rec *Record, entries []Entry) *Record {
	if rec == nil || len(entries) == 0 {
		return rec
	}
	trails, segs := readTrails(entries)
	killed := len(segs) > 0 && segs[len(segs)-1].Stop == killedStop
	behind := len(segs) > len(rec.Segments) // a segment began (and maybe ended) after run.json
	if rec.Outcome.Result != "" && !killed && !behind {
		return rec
	}
	out := *rec
	out.Counts = maps.Clone(rec.Counts)
	if out.Counts == nil {
		out.Counts = map[Status]int{}
	}
	out.Steps = make([]StepRecord, len(rec.Steps))
	for i := range rec.Steps {
		st := cloneStep(rec.Steps[i])
		if t, ok := trails[st.ID]; ok {
			was := st.Status
			restoreStep(&st, t)
			if st.Status != was {
				// Counted only if it was: a shard's record does not count other shards' steps.
				if n, counted := out.Counts[was]; counted {
					if n <= 1 {
						delete(out.Counts, was)
					} else {
						out.Counts[was] = n - 1
					}
					out.Counts[st.Status]++
				}
			}
		}
		out.Steps[i] = st
	}
	if len(segs) > 0 {
		out.Segments, out.StartedAt = segs, segs[0].StartedAt
		out.FinishedAt = segs[len(segs)-1].FinishedAt
	}
	out.Outcome = Outcome{Reason: FoldedReason}
	return &out
}

// FoldedReason is the Outcome.Reason of a record FoldJournal brought up to date.
const FoldedReason = "the run has not finished (its last segment has no end record: killed, or still running); " +
	"steps are as journal.jsonl records them, a running one's call sent and its outcome not yet known: " +
	"apply --resume on the run directory reconciles and continues it"
