package provider_test

import (
	"slices"
	"testing"

	"github.com/upgradeplan/upgradeplan/provider"
)

func TestJudgeNotStarted(t *testing.T) {
	w := provider.Watch{Instance: "i-1", From: provider.Values{"size": 4096}, To: provider.Values{"size": 8192}}
	tests := []struct {
		name      string
		observed  provider.Values
		phase     provider.Phase
		want      provider.State
		wantField string
	}{
		{"an instance already at the target needs no call", provider.Values{"size": 8192}, provider.PhaseReady, provider.StateDone, ""},
		{"a busy instance at the target is waited for, not done", provider.Values{"size": 8192}, provider.PhaseBusy, provider.StateWaiting, ""},
		{"a failed instance at the target is not done either", provider.Values{"size": 8192}, provider.PhaseFailed, provider.StateWaiting, ""},
		{"a ready instance at the planned values may be called", provider.Values{"size": 4096}, provider.PhaseReady, provider.StatePending, ""},
		{"a busy instance at the planned values is waited for", provider.Values{"size": 4096}, provider.PhaseBusy, provider.StateWaiting, ""},
		{"a failed instance at the planned values is not ready either", provider.Values{"size": 4096}, provider.PhaseFailed, provider.StateWaiting, ""},
		{"an instance at other values has drifted, naming the field", provider.Values{"size": 2048}, provider.PhaseReady, provider.StateDrifted, "size"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, field := provider.JudgeNotStarted(w, tc.observed, tc.phase)
			if got != tc.want || field != tc.wantField {
				t.Errorf("JudgeNotStarted = %s, %q; want %s, %q", got, field, tc.want, tc.wantField)
			}
		})
	}
}

func TestJudgeEachAnswersAVanishedInstanceAsMissing(t *testing.T) {
	watches := []provider.Watch{{Instance: "i-1"}, {Instance: "i-2"}, {Instance: "i-1"}}
	if got := provider.WatchedInstances(watches); !slices.Equal(got, []string{"i-1", "i-2"}) {
		t.Errorf("WatchedInstances = %v, want each instance once in watch order", got)
	}
	observed := provider.IndexByID([]provider.Instance{{ID: "i-1", Status: "Running"}})
	got := provider.JudgeEach(watches, observed,
		func(id string) string { return id + " is gone" },
		func(w provider.Watch, inst provider.Instance) provider.Progress {
			return provider.Progress{Instance: w.Instance, State: provider.StateDone, Status: inst.Status}
		})
	want := []provider.Progress{
		{Instance: "i-1", State: provider.StateDone, Status: "Running"},
		{Instance: "i-2", State: provider.StateMissing, Message: "i-2 is gone"},
		{Instance: "i-1", State: provider.StateDone, Status: "Running"},
	}
	if !slices.EqualFunc(got, want, func(a, b provider.Progress) bool {
		return a.Instance == b.Instance && a.State == b.State && a.Status == b.Status && a.Message == b.Message
	}) {
		t.Errorf("JudgeEach = %+v\nwant %+v", got, want)
	}
}
