package planner

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/upgradeplan/upgradeplan/internal/atomicfile"
	"github.com/upgradeplan/upgradeplan/provider"
)

// FormatVersion is the plan file format this build writes and reads.
const FormatVersion = 1

// Plan is the reviewed contract between `plan` and `apply`: every step with the exact
// parameters that will be sent. Its JSON form is the plan file; field order is fixed by
// these structs and map keys are sorted, so the same inputs give the same bytes.
//
// Ordering: steps are sorted by target in dependency order (a target after every target it
// depends on, ties in manifest order), then wave, instance id and chain index (#1, #2, ...).
//
// Dependencies are recorded at two levels:
//   - Step.DependsOn holds the edges inside one target: the chain of changes of one instance
//     (#2 depends on #1) and canary waves (the first step of each wave-1 instance depends on
//     the last step of every wave-0 instance).
//   - Target.DependsOn holds the manifest's dependsOn ONCE per target; it is not expanded into
//     step edges (a 10,000-instance fleet would write millions). The executor expands it: a
//     step of target T starts only when every step of every target T depends on succeeded.
//
// Settings hold the manifest's settings with defaults filled in (planner.Default*):
// parallelism 10, poll_interval 15s, step_timeout 2h, no failure budget, no window.
// Secrets appear as references ({"fromEnv": NAME}), never values.
type Plan struct {
	FormatVersion int       `json:"format_version"`
	ToolVersion   string    `json:"tool_version"`
	CreatedAt     time.Time `json:"created_at"`
	Manifest      Source    `json:"manifest"`
	Settings      Settings  `json:"settings"`
	// Accounts are the manifest's named credential sets, as references only.
	Accounts map[string]provider.Account `json:"accounts,omitempty"`
	Targets  []Target                    `json:"targets"`
	Steps    []Step                      `json:"steps"`
	// Digest is the SHA-256 of the canonical plan without Digest (see ComputeDigest). It
	// covers CreatedAt: two plans of the same inputs made at different times differ only in
	// created_at and digest.
	Digest string `json:"digest"`
}

// Source identifies the manifest a plan was made from.
type Source struct {
	Path   string `json:"path"`
	SHA256 string `json:"sha256"`
	Name   string `json:"name"`            // metadata.name
	Owner  string `json:"owner,omitempty"` // metadata.owner
}

// Settings are the manifest's settings with defaults filled in.
type Settings struct {
	Parallelism int `json:"parallelism"`
	// MaxFailures is "" (no budget), a count ("3") or a percentage of steps ("5%").
	MaxFailures  string             `json:"max_failures,omitempty"`
	Window       *Window            `json:"window,omitempty"`
	QPS          map[string]float64 `json:"qps,omitempty"` // "kind/Action" → requests per second
	PollInterval Duration           `json:"poll_interval"`
	StepTimeout  Duration           `json:"step_timeout"`
	// Notify are the webhooks apply tells when it ends or stops (settings.notify); each URL
	// is a reference to an environment variable, never the URL.
	Notify []Notify `json:"notify,omitempty"`
}

// Notify is one webhook of settings.notify.
type Notify struct {
	Format string             `json:"format,omitempty"`
	URL    provider.SecretRef `json:"url"`
}

// Window is the change window: no step starts before Start or after End-Cutoff.
type Window struct {
	Start  time.Time `json:"start"`
	End    time.Time `json:"end"`
	Cutoff Duration  `json:"cutoff"`
}

// Target is one manifest target as planned.
type Target struct {
	Name    string             `json:"name"`
	Kind    string             `json:"kind"`
	Region  string             `json:"region"`
	Account string             `json:"account,omitempty"`
	Select  provider.Selection `json:"select"`
	// DependsOn names targets every step of which must succeed before any step of this
	// target starts (see Plan: not expanded into Step.DependsOn).
	DependsOn     []string `json:"depends_on,omitempty"`
	Canary        int      `json:"canary,omitempty"`
	MaxConcurrent int      `json:"max_concurrent,omitempty"`
	// Instances are every instance the selection matched, sorted; those without a step are
	// unchanged.
	Instances []string `json:"instances"`
}

// Step is one mutating call on one instance.
type Step struct {
	// ID is "<target>/<instance>", or "<target>/<instance>#n" (n from 1) when an instance has
	// more than one change.
	ID       string          `json:"id"`
	Target   string          `json:"target"`
	Kind     string          `json:"kind"`
	Region   string          `json:"region"`
	Account  string          `json:"account,omitempty"`
	Instance string          `json:"instance"`
	Action   string          `json:"action"`
	Params   map[string]any  `json:"params"`
	From     provider.Values `json:"from"`
	To       provider.Values `json:"to"`
	// DependsOn are step ids of the same target that must succeed first (chain and canary
	// edges); the target's own DependsOn adds the steps of other targets.
	DependsOn []string `json:"depends_on,omitempty"`
	Wave      int      `json:"wave"`
	Notes     []string `json:"notes,omitempty"`
}

// Duration is a time.Duration written as "15s" in JSON.
type Duration time.Duration

func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration must be a string such as \"15s\": %w", err)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// ComputeDigest returns the hex SHA-256 of the plan's canonical JSON (compact, this package's
// field order, sorted map keys) with Digest cleared. CreatedAt is covered: every plan file is
// its own reviewed object, so a re-plan of the same inputs is another plan (another digest,
// other ClientTokens), and `apply --resume` continues a run only with the very file it began.
func ComputeDigest(p *Plan) (string, error) { return encodePlan(p, nil) }

// Encode writes p as an indented plan file, setting p.Digest. It streams (encode.go): the
// plan is never held in memory as one document.
func Encode(w io.Writer, p *Plan) error {
	d, err := encodePlan(p, w)
	if err != nil {
		return err
	}
	p.Digest = d
	return nil
}

// WriteFile writes p to path atomically (a temp file in the same directory, then rename;
// through a symlink to the file it points at, and never over a directory, device or FIFO:
// OutputPath), gzip-compressed when path ends in .gz (compress.go), setting p.Digest.
func WriteFile(path string, p *Plan) error {
	return writeAtomicFunc(path, func(w io.Writer) error {
		if !compressed(path) {
			return Encode(w, p)
		}
		zw, err := newGzipWriter(w)
		if err != nil {
			return err
		}
		if err := Encode(zw, p); err != nil {
			return err
		}
		return zw.Close()
	})
}

// WriteDigestFile writes digest and a newline to path atomically: what `plan --digest-file`
// writes for `apply --expect-digest "$(cat FILE)"` (and a CronJob's configMapKeyRef).
func WriteDigestFile(path, digest string) error { return writeAtomic(path, []byte(digest+"\n")) }

// ErrDigestMismatch and ErrFormatVersion are the refusals `show` and `apply` exit 4 on.
var (
	ErrDigestMismatch = errors.New("plan digest does not match its content")
	ErrFormatVersion  = errors.New("unknown plan format version")
)

// Decode reads a plan, compressed or not (compress.go), and checks its format version and digest. A mismatch is an error
// wrapping ErrDigestMismatch or ErrFormatVersion; the plan is still returned with it so
// that callers can report what it claims.
//
// The reader is strict (see ErrNotStrict): a key in another case, twice, unknown, or data
// after the plan is refused, so that every tool reads a plan file the same way.
func Decode(r io.Reader) (*Plan, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("plan: read: %w", err)
	}
	return DecodeBytes(data)
}

// DecodeBytes is Decode of a plan file already read (data is not kept), without the copy
// of it Decode reads: 50 MB at 100,000 instances.
func DecodeBytes(data []byte) (*Plan, error) {
	data, err := Gunzip(data)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	dec.DisallowUnknownFields()
	var p Plan
	if err := dec.Decode(&p); err != nil {
		if strictErr := checkStrict(data); errors.Is(strictErr, ErrNotStrict) {
			return nil, fmt.Errorf("plan: read: %w", strictErr)
		}
		return nil, fmt.Errorf("plan: read: %w", err)
	}
	if err := checkStrict(data); err != nil {
		return nil, fmt.Errorf("plan: read: %w", err)
	}
	if p.FormatVersion != FormatVersion {
		return &p, fmt.Errorf("%w: format_version %d (this upgradeplan reads %d)", ErrFormatVersion, p.FormatVersion, FormatVersion)
	}
	want, err := ComputeDigest(&p)
	if err != nil {
		return &p, err
	}
	if p.Digest != want {
		return &p, fmt.Errorf("%w: the file says %s, its content hashes to %s; re-run plan", ErrDigestMismatch, short(p.Digest), short(want))
	}
	compact(&p)
	return &p, nil
}

// ReadFile reads and checks the plan at path (see Decode).
func ReadFile(path string) (*Plan, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	p, err := Decode(f)
	if err != nil {
		return p, fmt.Errorf("%s: %w", path, err)
	}
	return p, nil
}

func short(d string) string {
	if len(d) > 12 {
		return d[:12]
	}
	if d == "" {
		return "(none)"
	}
	return d
}

func writeAtomic(path string, data []byte) error {
	return writeAtomicFunc(path, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// writeAtomicFunc writes what write writes to a temp file beside the file path names
// (OutputPath: a symlink's target), syncs it and renames it over that file.
func writeAtomicFunc(path string, write func(io.Writer) error) error {
	path, err := OutputPath(path)
	if err != nil {
		return err
	}
	// Mode 0600, as the plan's temporary file always had: the plan names accounts and
	// instances, and its reader is the apply that runs as the same user.
	return atomicfile.Write(path, 0o600, write)
}

// OutputPath returns the file that writing path (plan -o, --digest-file) replaces: path
// itself when it does not exist yet or is a regular file; when it is a symbolic link, the
// file the link leads to (which may not exist yet), so that the link stays a link and its
// target gets the new content, as a shell's > would do. A path that exists and is not a
// regular file (a directory, a device, a FIFO, a socket) is refused: renaming a plan over it
// would replace it rather than write to it.
func OutputPath(path string) (string, error) {
	name := path
	for hops := 0; ; hops++ {
		fi, err := os.Lstat(path)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return path, nil
		case err != nil:
			return "", err
		case fi.Mode().IsRegular():
			return path, nil
		case fi.Mode()&fs.ModeSymlink == 0:
			return "", fmt.Errorf("%s is %s, not a regular file; name a regular file (or a symlink to one) instead", name, fileType(fi.Mode()))
		case hops == 40:
			return "", fmt.Errorf("%s: too many levels of symbolic links", name)
		}
		if resolved, err := filepath.EvalSymlinks(path); err == nil {
			path = resolved
			continue
		}
		// A link to a file not there yet: follow one hop, from the link's real directory.
		link, err := os.Readlink(path)
		if err != nil {
			return "", err
		}
		if !filepath.IsAbs(link) {
			dir, err := filepath.EvalSymlinks(filepath.Dir(path))
			if err != nil {
				return "", err
			}
			link = filepath.Join(dir, link)
		}
		path = link
	}
}

// fileType names the kind of a file that is not regular, for OutputPath's refusal.
func fileType(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeCharDevice != 0, m&fs.ModeDevice != 0:
		return "a device"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe (FIFO)"
	case m&fs.ModeSocket != 0:
		return "a socket"
	}
	return "a special file"
}
