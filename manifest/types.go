package manifest

import (
	"fmt"
	"time"
)

// Pos is a position in a manifest file (1-based line and column).
type Pos struct {
	File string
	Line int
	Col  int
}

func (p Pos) String() string { return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col) }

// Fleet is a decoded, valid `upgradeplan/v1` manifest.
type Fleet struct {
	File       string
	SHA256     string // of the file's bytes
	APIVersion string
	Kind       string
	Metadata   Metadata
	Accounts   map[string]Account
	Settings   Settings
	Targets    []Target
	// Positions maps every value's path, as errors print it ("targets[1].desired.memSizeMB",
	// "settings.window.end"), to where it stands in the file.
	Positions map[string]Pos
}

// Pos returns the position of the value at path, or of the nearest enclosing value that has
// one, or the file's start.
func (f *Fleet) Pos(path string) Pos {
	for p := path; p != ""; p = parentPath(p) {
		if pos, ok := f.Positions[p]; ok {
			return pos
		}
	}
	return Pos{File: f.File, Line: 1, Col: 1}
}

func parentPath(p string) string {
	for i := len(p) - 1; i >= 0; i-- {
		switch p[i] {
		case '.', '[':
			return p[:i]
		}
	}
	return ""
}

// Metadata names the fleet.
type Metadata struct {
	Name  string
	Owner string
}

// Account is a named credential set.
type Account struct {
	Cloud string // "alibaba" or "tencent"
	// KeyID and Secret are the AccessKey id/secret (Alibaba) or SecretId/SecretKey (Tencent).
	KeyID  SecretRef
	Secret SecretRef
	// KeyIDLiteral is the key id when the manifest writes it out (a key id is not secret);
	// then KeyID is zero. A secret is always a SecretRef.
	KeyIDLiteral string
}

// SecretRef is `{fromEnv: NAME}`: a value read from the environment only when a call is made.
type SecretRef struct {
	FromEnv string
}

// Settings are the fleet-wide apply settings; zero values mean "not set".
type Settings struct {
	Parallelism  int
	MaxFailures  Budget
	Window       *Window
	QPS          map[string]float64 // "kind/Action" → requests per second
	PollInterval time.Duration
	StepTimeout  time.Duration
	// Notify are the webhooks told when apply ends or stops; each URL comes from the
	// environment (a webhook URL is itself a credential).
	Notify []Notify
}

// Notify is one settings.notify entry.
type Notify struct {
	Format string    // "" (from the URL's host), json, slack, dingtalk, wecom, feishu
	URL    SecretRef // always {fromEnv}
}

// Budget is maxFailures: a count, or a percentage of the steps.
type Budget struct {
	Set     bool
	Count   int
	Percent float64 // used when IsPercent
	// IsPercent is true for "5%".
	IsPercent bool
}

// String renders the budget as the manifest wrote it ("3", "5%"), "" when unset.
func (b Budget) String() string {
	switch {
	case !b.Set:
		return ""
	case b.IsPercent:
		return fmt.Sprintf("%g%%", b.Percent)
	default:
		return fmt.Sprint(b.Count)
	}
}

// Window is the change window.
type Window struct {
	Start  time.Time
	End    time.Time
	Cutoff time.Duration
}

// Target is a group of instances of one kind that should reach one desired state.
type Target struct {
	Name          string
	Kind          string
	Region        string
	Account       string
	Select        Selection
	Desired       map[string]any // string, bool, int64, float64, map[string]any, SecretRef
	DependsOn     []string
	Canary        int
	MaxConcurrent int
	Index         int // position in targets[], for paths such as "targets[1]"
}

// Selection picks instances by id and/or tags (both: the intersection).
type Selection struct {
	IDs  []string
	Tags map[string]string
}
