package planner

import (
	"encoding/json"
	"slices"
	"strings"

	"github.com/upgradeplan/upgradeplan/provider"
)

// compact makes a decoded plan share what its steps repeat, so that apply holds a plan of
// 60,000 steps in a fraction of what encoding/json built: it allocates every string and
// every map of every step anew, although a fleet's steps name a few kinds, accounts,
// regions, actions and targets, a few notes, and a few distinct from and to values. After
// compact the steps' strings are shared (a step's instance is its target's instances
// entry, a dependsOn entry the step id it names), steps with equal notes share one
// slice, and steps with equal flat from (to) values share one map; what the decoder
// allocated is garbage. The values are the same: the digest does not change.
//
// The shared maps and slices are read only, as every reader of a plan treats them.
func compact(p *Plan) {
	in := interner{strs: map[string]string{}, strVals: map[string]any{}, numVals: map[json.Number]any{},
		maps: map[string]provider.Values{}, notes: map[string][]string{}}
	for i := range p.Targets {
		t := &p.Targets[i]
		t.Name, t.Kind, t.Region, t.Account = in.str(t.Name), in.str(t.Kind), in.str(t.Region), in.str(t.Account)
		for k, id := range t.Instances {
			t.Instances[k] = in.str(id)
		}
	}
	ids := make(map[string]string, len(p.Steps))
	for i := range p.Steps {
		ids[p.Steps[i].ID] = p.Steps[i].ID
	}
	for i := range p.Steps {
		s := &p.Steps[i]
		s.Target, s.Kind, s.Region, s.Account = in.str(s.Target), in.str(s.Kind), in.str(s.Region), in.str(s.Account)
		s.Instance, s.Action = in.str(s.Instance), in.str(s.Action)
		for k, d := range s.DependsOn {
			if id, ok := ids[d]; ok {
				s.DependsOn[k] = id
			}
		}
		in.values(s.Params)
		s.From, s.To = in.shared(s.From), in.shared(s.To)
		s.Notes = in.noteList(s.Notes)
	}
}

type interner struct {
	strs map[string]string
	// strVals and numVals are the boxed scalars, so that equal values share one box.
	strVals map[string]any
	numVals map[json.Number]any
	maps    map[string]provider.Values
	notes   map[string][]string
	key     []byte
}

func (in *interner) str(s string) string {
	if v, ok := in.strs[s]; ok {
		return v
	}
	in.strs[s] = s
	return s
}

// value is v with its strings shared and, for a scalar, the boxed value shared too.
func (in *interner) value(v any) any {
	switch x := v.(type) {
	case string:
		if b, ok := in.strVals[x]; ok {
			return b
		}
		v = in.str(x)
		in.strVals[x] = v
	case json.Number:
		if b, ok := in.numVals[x]; ok {
			return b
		}
		in.numVals[x] = v
	case map[string]any:
		in.values(x)
	case []any:
		for i, e := range x {
			x[i] = in.value(e)
		}
	}
	return v
}

// values shares m's keys and values in place (assigning an existing key replaces the
// map's copy of the key as well).
func (in *interner) values(m map[string]any) {
	for k, v := range m {
		m[in.str(k)] = in.value(v)
	}
}

// shared is one map for every flat Values equal to m (scalars only); m itself, its keys
// and values shared, otherwise.
func (in *interner) shared(m provider.Values) provider.Values {
	if m == nil {
		return nil
	}
	in.values(m)
	var few [8]string
	keys := few[:0]
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	in.key = in.key[:0]
	for _, k := range keys {
		in.key = append(in.key, k...)
		switch x := m[k].(type) {
		case string:
			in.key = append(append(in.key, 0, 's'), x...)
		case json.Number:
			in.key = append(append(in.key, 0, 'n'), x...)
		default:
			return m // nested or of another type: kept as is
		}
		in.key = append(in.key, 0)
	}
	if have, ok := in.maps[string(in.key)]; ok {
		return have
	}
	in.maps[string(in.key)] = m
	return m
}

func (in *interner) noteList(notes []string) []string {
	if len(notes) == 0 {
		return notes
	}
	key := strings.Join(notes, "\x00")
	if have, ok := in.notes[key]; ok {
		return have
	}
	for i, n := range notes {
		notes[i] = in.str(n)
	}
	in.notes[key] = notes
	return notes
}
