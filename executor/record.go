package executor

import (
	"time"

	"github.com/upgradeplan/upgradeplan/planner"
	"github.com/upgradeplan/upgradeplan/provider"
)

// RecordSchema names the run record format; bump it on an incompatible change.
const RecordSchema = "upgradeplan.run/v1"

// Status is a step's outcome in a run.
type Status string

const (
	StatusPending    Status = "pending" // not yet decided (only while running)
	StatusRunning    Status = "running" // call sent, completion being observed
	StatusSucceeded  Status = "succeeded"
	StatusFailed     Status = "failed"
	StatusSkipped    Status = "skipped"     // a dependency failed or was skipped
	StatusNoop       Status = "noop"        // the instance already showed `to`, or the cloud refused an in-place call as having nothing to do
	StatusDrifted    Status = "drifted"     // `from` no longer matched live state; not called
	StatusNotStarted Status = "not-started" // window closed, failure budget spent or stop requested
	StatusCancelled  Status = "cancelled"   // in flight when a second signal or the stop deadline ended the run
)

// Record is the complete, auditable record of one apply (run.json). Field order is the
// JSON key order; it is written atomically after every run segment.
type Record struct {
	Schema     string           `json:"schema"`
	Tool       string           `json:"tool_version"`
	Plan       PlanRef          `json:"plan"`
	DryRun     bool             `json:"dry_run"`
	StartedAt  time.Time        `json:"started_at"`
	FinishedAt time.Time        `json:"finished_at"`
	Segments   []Segment        `json:"segments"` // one per apply invocation (the first, then each --resume)
	Outcome    Outcome          `json:"outcome"`
	Settings   planner.Settings `json:"settings"`
	Counts     map[Status]int   `json:"counts"`
	Steps      []StepRecord     `json:"steps"`
	// Shard is "I/N" in the record of one shard of a sharded run (`apply --shard`), whose
	// steps of other shards are as that shard last saw them; MergeShards makes the run's.
	Shard   string        `json:"shard,omitempty"`
	Buckets []BucketStats `json:"buckets"`
}

// PlanRef identifies the applied plan.
type PlanRef struct {
	Path           string    `json:"path"`
	Digest         string    `json:"digest"`
	Name           string    `json:"name"`
	ManifestPath   string    `json:"manifest_path"`
	ManifestSHA256 string    `json:"manifest_sha256"`
	CreatedAt      time.Time `json:"created_at"`
}

// Segment is one apply invocation within a run.
type Segment struct {
	StartedAt  time.Time `json:"started_at"`
	FinishedAt time.Time `json:"finished_at"`
	Resumed    bool      `json:"resumed"`
	PID        int       `json:"pid"`
	Host       string    `json:"host"`
	// Stop says why this segment ended before finishing the plan ("" when it finished).
	Stop string `json:"stop,omitempty"`
	// Window is the change window an operator set for this segment in place of the plan's
	// (`apply --resume DIR --window START/END`); nil when the plan's window applied.
	Window *planner.Window `json:"window_override,omitempty"`
}

// Outcome summarises the run for people and for the exit code.
type Outcome struct {
	// Result is "succeeded", "failed", "stopped" (resumable) or "refused".
	Result string `json:"result"`
	// Reason explains a stop: "window cutoff at ...", "failure budget 3 exceeded", "signal".
	Reason   string `json:"reason,omitempty"`
	ExitCode int    `json:"exit_code"`
}

// StepRecord is one plan step's history.
type StepRecord struct {
	ID        string   `json:"id"`
	Target    string   `json:"target"`
	Kind      string   `json:"kind"`
	Region    string   `json:"region"`
	Account   string   `json:"account,omitempty"`
	Instance  string   `json:"instance"`
	Action    string   `json:"action"`
	Wave      int      `json:"wave"`
	DependsOn []string `json:"depends_on,omitempty"`
	Notes     []string `json:"notes,omitempty"`

	Status Status `json:"status"`
	// State is where a running or pending step stands in the step machine (waiting,
	// sending, maybe-sent, accepted); empty once the step ended.
	State Phase `json:"state,omitempty"`
	// Reason says why a step was skipped, drifted, not started or cancelled (whether its
	// call was sent), or what a succeeded step's record must add (its answer was lost).
	Reason string `json:"reason,omitempty"`

	// From and To are the plan's; Before is what the refresh observed, After what completion
	// observed.
	From   provider.Values `json:"from"`
	To     provider.Values `json:"to"`
	Before provider.Values `json:"before,omitempty"`
	After  provider.Values `json:"after,omitempty"`

	// Attempts counts mutating calls sent (0 or 1 when all went well).
	Attempts    int      `json:"attempts"`
	RequestIDs  []string `json:"request_ids,omitempty"` // every request id of the mutating call's attempts
	OrderID     string   `json:"order_id,omitempty"`
	OrderName   string   `json:"order_name,omitempty"` // the order's other handle (Tencent DealName)
	ClientToken string   `json:"client_token,omitempty"`

	Error *StepError `json:"error,omitempty"`

	StartedAt       *time.Time `json:"started_at,omitempty"`
	FinishedAt      *time.Time `json:"finished_at,omitempty"`
	DurationSeconds float64    `json:"duration_seconds,omitempty"`
}

// LastRequestID is the request id of the last attempt of the mutating call, the one that
// decided the step: the error's when it names one, else the last of RequestIDs. It is the id
// a cloud's support asks for, so the report and the notification show the same one.
func (s StepRecord) LastRequestID() string {
	if s.Error != nil && s.Error.RequestID != "" {
		return s.Error.RequestID
	}
	if n := len(s.RequestIDs); n > 0 {
		return s.RequestIDs[n-1]
	}
	return ""
}

// StepError is why a step failed.
type StepError struct {
	Code      string         `json:"code,omitempty"`
	Class     provider.Class `json:"class"`
	Message   string         `json:"message"`
	RequestID string         `json:"request_id,omitempty"`
}

// BucketStats counts the requests of one (account, kind/action) token bucket.
type BucketStats struct {
	Account   string  `json:"account"`  // "" for the default chain, shown as "default"
	Action    string  `json:"action"`   // "alibaba.kafka/UpgradeInstanceVersion"
	Rate      float64 `json:"rate"`     // configured requests per second
	MinRate   float64 `json:"min_rate"` // lowest rate after throttling halved it
	Calls     int     `json:"calls"`
	Throttles int     `json:"throttles"`
	Mutating  bool    `json:"mutating"`
	Polls     int     `json:"polls"` // calls made to observe completion
}

// Event is one step transition, for the progress display and log lines.
type Event struct {
	Time     time.Time `json:"time"`
	Step     string    `json:"step"`
	Target   string    `json:"target"`
	Instance string    `json:"instance"`
	Status   Status    `json:"status"`
	Message  string    `json:"message,omitempty"`
	Progress Counters  `json:"progress"`
}

// Counters are the run's totals at an event.
type Counters struct {
	Total     int `json:"total"`
	Done      int `json:"done"` // in a final status
	Failed    int `json:"failed"`
	InFlight  int `json:"in_flight"`
	Throttled int `json:"throttled"` // throttling answers so far
	// ETA is the remaining time the rate caps and in-flight work allow at best; zero if unknown.
	ETA time.Duration `json:"eta,omitempty"`
}
