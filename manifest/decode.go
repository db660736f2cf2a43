package manifest

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// decoder fills a Fleet from the document's plain values. The schema has already reported
// values of the wrong type, so the decoder skips them silently; it reports only what the
// schema cannot check (durations, times, percentages).
type decoder struct {
	fleet    *Fleet
	tree     *tree
	problems Problems
}

func (d *decoder) problem(ptr, format string, args ...any) {
	d.problems = append(d.problems, d.tree.problemAt(ptr, false, fmt.Sprintf(format, args...)))
}

func (d *decoder) decode(v any) {
	doc, _ := v.(map[string]any)
	f := d.fleet
	f.APIVersion, _ = doc["apiVersion"].(string)
	f.Kind, _ = doc["kind"].(string)
	if md, ok := doc["metadata"].(map[string]any); ok {
		f.Metadata.Name, _ = md["name"].(string)
		f.Metadata.Owner, _ = md["owner"].(string)
	}
	if accounts, ok := doc["accounts"].(map[string]any); ok {
		f.Accounts = make(map[string]Account, len(accounts))
		for name, a := range accounts {
			f.Accounts[name] = decodeAccount(a)
		}
	}
	if s, ok := doc["settings"].(map[string]any); ok {
		d.settings(s)
	}
	if targets, ok := doc["targets"].([]any); ok {
		for i, t := range targets {
			if m, ok := t.(map[string]any); ok {
				f.Targets = append(f.Targets, d.target(i, m))
			}
		}
	}
}

func decodeAccount(v any) Account {
	m, _ := v.(map[string]any)
	var a Account
	a.Cloud, _ = m["cloud"].(string)
	for _, k := range []string{"accessKeyId", "secretId"} {
		switch x := m[k].(type) {
		case string:
			a.KeyIDLiteral = x
		case map[string]any:
			a.KeyID, _ = asSecretRef(x)
		}
	}
	for _, k := range []string{"accessKeySecret", "secretKey"} {
		if x, ok := m[k].(map[string]any); ok {
			a.Secret, _ = asSecretRef(x)
		}
	}
	return a
}

func (d *decoder) settings(s map[string]any) {
	set := &d.fleet.Settings
	set.Parallelism = d.integer(s, "parallelism", "/settings/parallelism")
	if v, ok := s["maxFailures"]; ok {
		set.MaxFailures = d.budget(v)
	}
	set.PollInterval = d.duration(s, "pollInterval", "/settings/pollInterval", false)
	set.StepTimeout = d.duration(s, "stepTimeout", "/settings/stepTimeout", false)
	if qps, ok := s["qps"].(map[string]any); ok {
		set.QPS = make(map[string]float64, len(qps))
		for _, k := range sortedKeys(qps) {
			if n, ok := qps[k].(json.Number); ok {
				if f, err := n.Float64(); err == nil {
					if f > 0 && f < QPSFloor {
						d.problem("/settings/qps/"+escapePointer(k), "%s is below the floor of one call an hour (%.6f); a lower rate would stall apply", n, QPSFloor)
					}
					set.QPS[k] = f
				}
			}
		}
	}
	if w, ok := s["window"].(map[string]any); ok {
		set.Window = d.window(w)
	}
	if list, ok := s["notify"].([]any); ok {
		for _, e := range list {
			m, _ := e.(map[string]any)
			u, _ := m["url"].(map[string]any)
			ref, ok := asSecretRef(u)
			if !ok {
				continue // the schema has said what is wrong
			}
			format, _ := m["format"].(string)
			set.Notify = append(set.Notify, Notify{Format: format, URL: ref})
		}
	}
}

var percent = regexp.MustCompile(`^([0-9]+(?:\.[0-9]+)?)%$`)

// budget reads maxFailures: an integer count (the schema checked it), or "N%".
func (d *decoder) budget(v any) Budget {
	const ptr = "/settings/maxFailures"
	switch x := v.(type) {
	case json.Number:
		if n := d.integer(map[string]any{"maxFailures": x}, "maxFailures", ptr); n >= 0 {
			return Budget{Set: true, Count: n}
		}
	case string:
		m := percent.FindStringSubmatch(strings.TrimSpace(x))
		if m == nil {
			hint := `write a count such as 3 or a percentage such as "5%"`
			if _, err := strconv.Atoi(x); err == nil {
				hint = "write the count without quotes: " + x
			}
			d.problem(ptr, "%q is not a count or a percentage; %s", x, hint)
			return Budget{}
		}
		p, _ := strconv.ParseFloat(m[1], 64)
		if p <= 0 {
			d.problem(ptr, "%q is not a percentage between 0 and 100; use 0 (not \"0%%\") to stop at the first failure", x)
			return Budget{}
		}
		if p > 100 {
			d.problem(ptr, "%q is not a percentage between 0 and 100; write at most \"100%%\"", x)
			return Budget{}
		}
		return Budget{Set: true, Percent: p, IsPercent: true}
	}
	return Budget{}
}

// duration reads a Go duration such as 15s, 30m or 1h30m.
func (d *decoder) duration(m map[string]any, key, ptr string, zeroOK bool) time.Duration {
	s, ok := m[key].(string)
	if !ok {
		return 0
	}
	dur, err := time.ParseDuration(strings.TrimSpace(s))
	switch {
	case err != nil:
		d.problem(ptr, "%q is not a duration; write it like 30s, 15m or 1h30m", s)
		return 0
	case dur < 0 || (dur == 0 && !zeroOK):
		d.problem(ptr, "%q must be longer than zero", s)
		return 0
	}
	return dur
}

func (d *decoder) window(w map[string]any) *Window {
	win := &Window{}
	okStart, okEnd := true, true
	win.Start, okStart = d.time(w, "start")
	win.End, okEnd = d.time(w, "end")
	win.Cutoff = d.duration(w, "cutoff", "/settings/window/cutoff", true)
	if !okStart || !okEnd {
		return win
	}
	length := win.End.Sub(win.Start)
	if length <= 0 {
		d.problem("/settings/window/end", "the window ends at %s, not after its start %s; move end later",
			win.End.Format(time.RFC3339), win.Start.Format(time.RFC3339))
		return win
	}
	if win.Cutoff >= length {
		d.problem("/settings/window/cutoff", "cutoff %s is not shorter than the window (%s), so no step could start; shorten it",
			win.Cutoff, length)
	}
	return win
}

func (d *decoder) time(w map[string]any, key string) (time.Time, bool) {
	s, ok := w[key].(string)
	if !ok {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339, strings.TrimSpace(s))
	if err != nil {
		d.problem("/settings/window/"+key, "%q is not a time; write RFC 3339 with an offset, e.g. \"2026-11-28T01:00:00+08:00\"", s)
		return time.Time{}, false
	}
	return t, true
}

func (d *decoder) target(i int, m map[string]any) Target {
	t := Target{Index: i}
	t.Name, _ = m["name"].(string)
	t.Kind, _ = m["kind"].(string)
	t.Region, _ = m["region"].(string)
	t.Account, _ = m["account"].(string)
	if sel, ok := m["select"].(map[string]any); ok {
		if ids, ok := sel["ids"].([]any); ok {
			for _, id := range ids {
				if s, ok := id.(string); ok {
					t.Select.IDs = append(t.Select.IDs, s)
				}
			}
		}
		if tags, ok := sel["tags"].(map[string]any); ok {
			t.Select.Tags = make(map[string]string, len(tags))
			for k, v := range tags {
				if s, ok := v.(string); ok {
					t.Select.Tags[k] = s
				}
			}
		}
	}
	if desired, ok := m["desired"].(map[string]any); ok {
		t.Desired = desiredMap(desired)
	}
	if deps, ok := m["dependsOn"].([]any); ok {
		for _, dep := range deps {
			if s, ok := dep.(string); ok {
				t.DependsOn = append(t.DependsOn, s)
			}
		}
	}
	t.Canary = d.integer(m, "canary", fmt.Sprintf("/targets/%d/canary", i))
	t.MaxConcurrent = d.integer(m, "maxConcurrent", fmt.Sprintf("/targets/%d/maxConcurrent", i))
	return t
}

// desiredMap converts desired values to string, bool, int64, float64, SecretRef and nested
// map[string]any.
func desiredMap(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = desiredValue(v)
	}
	return out
}

func desiredValue(v any) any {
	switch x := v.(type) {
	case json.Number:
		if i, ok := wholeNumber(x); ok {
			return i
		}
		f, _ := x.Float64()
		return f
	case map[string]any:
		if ref, ok := asSecretRef(x); ok {
			return ref
		}
		return desiredMap(x)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = desiredValue(e)
		}
		return out
	}
	return v
}

func asSecretRef(m map[string]any) (SecretRef, bool) {
	if len(m) != 1 {
		return SecretRef{}, false
	}
	name, ok := m["fromEnv"].(string)
	return SecretRef{FromEnv: name}, ok
}

// maxExactInteger is the largest whole number a float64 holds exactly (2^53): a whole number
// written as a float (1e15, 3.0) is taken as an integer up to it.
const maxExactInteger = 1 << 53

// wholeNumber reads n as an integer in any spelling YAML allows for a whole number: 3, 3.0,
// 3e0, 0.3e1. It is false for a fraction or a float beyond maxExactInteger.
func wholeNumber(n json.Number) (int64, bool) {
	if i, err := n.Int64(); err == nil {
		return i, true
	}
	f, err := n.Float64()
	if err != nil || f != math.Trunc(f) || math.Abs(f) > maxExactInteger {
		return 0, false
	}
	return int64(f), true
}

// maxCount is the largest count (parallelism, maxFailures, canary, maxConcurrent) a manifest
// may set: every count is held in 32 bits.
const maxCount = math.MaxInt32

// integer reads the count m[key] (the schema checked that it is a whole number): its value,
// 0 when it is absent, -1 when it is no usable whole number. A whole number the field cannot
// hold is reported, not dropped, and the message names the limit of the field (maxCount),
// whether the number was too large for a float64 to hold exactly or only for the count.
func (d *decoder) integer(m map[string]any, key, ptr string) int {
	n, ok := m[key].(json.Number)
	if !ok {
		return 0
	}
	i, whole := wholeNumber(n)
	if !whole {
		if f, err := n.Float64(); err == nil && f == math.Trunc(f) {
			d.problem(ptr, "%s is too large; write a whole number of at most %d", n, maxCount)
		}
		// A fraction: the schema said so.
		return -1
	}
	if i > maxCount {
		d.problem(ptr, "%s is too large; write a whole number of at most %d", n, maxCount)
		return -1
	}
	return int(i)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
