package sim

import (
	"fmt"
	"maps"
	"slices"
	"time"

	"gopkg.in/yaml.v3"
)

// This file is the one instance table every product keeps its instances in: loading the
// state section (ids and regions required, ids unique), the snapshot for GET /_sim/state,
// ids in sorted order, what a caller may see (its account, the region it asks), tag
// filters, paging, and another actor's change. What an instance is (its fields, defaults,
// statuses and rules) stays in its product. The visibility lag needs nothing here: a
// change is made by its effect only once the lag has passed (Host.Apply), so the table
// always holds what describes may see. Lists may see less: with a list lag (state file
// `listLag`), List answers from an index, a copy of every instance taken when the last
// copy had grown that old, so a list trails the describes by up to the lag, for changes
// and for their ends alike, as the clouds' search-backed lists do.

// Placement is what every product's instance has and the table reads: its id, the
// region it lives in, its owner and its tags. A product's instance type embeds it with
// the struct tag yaml:",inline", so the state file lists these keys beside the product's.
type Placement struct {
	ID     string `yaml:"id" json:"id"`
	Region string `yaml:"region" json:"region"`
	// Account owns the instance; "" means every account of its cloud.
	Account string            `yaml:"account,omitempty" json:"account,omitempty"`
	Tags    map[string]string `yaml:"tags,omitempty" json:"tags,omitempty"`
}

// Where returns the placement; an instance type has it by embedding Placement.
func (p *Placement) Where() *Placement { return p }

// Placed is an instance type's pointer that tells the table where the instance is.
type Placed[T any] interface {
	*T
	Where() *Placement
}

// Table holds a product's instances by id. T is the product's instance type; the table
// keeps *T, so actions change instances in place. The zero Table is empty and ready.
type Table[T any, P Placed[T]] struct {
	byID map[string]P
	ids  []string // sorted

	index   map[string]P // List's copy of byID under a list lag; nil: none taken yet
	indexAt time.Time    // the simulated time index was copied
}

// Load replaces the table's instances with the state section node (nil: none), in the
// state file's own key. check, when not nil, sets an instance's defaults and refuses what
// the product does not have; its error is prefixed with the key and the instance's id.
func (t *Table[T, P]) Load(node *yaml.Node, stateKey string, check func(P) error) error {
	t.byID, t.ids, t.index = map[string]P{}, nil, nil
	list, err := decodeInstances[T](node, stateKey)
	if err != nil {
		return err
	}
	for i := range list {
		inst := P(&list[i])
		at := inst.Where()
		switch {
		case at.ID == "":
			return fmt.Errorf("%s: instance %d: id is required", stateKey, i+1)
		case at.Region == "":
			return fmt.Errorf("%s: %s: region is required", stateKey, at.ID)
		}
		if _, dup := t.byID[at.ID]; dup {
			return fmt.Errorf("%s: duplicate id %s", stateKey, at.ID)
		}
		if check != nil {
			if err := check(inst); err != nil {
				return fmt.Errorf("%s: %s: %w", stateKey, at.ID, err)
			}
		}
		t.byID[at.ID] = inst
	}
	t.ids = slices.Sorted(maps.Keys(t.byID))
	return nil
}

// decodeInstances decodes a state section, a YAML list, into the instance type. A nil
// node (the section is absent) is no instances. A decoding error is prefixed with the
// state key, as the state file names the section.
func decodeInstances[T any](node *yaml.Node, stateKey string) ([]T, error) {
	if node == nil {
		return nil, nil
	}
	var list []T
	if err := node.Decode(&list); err != nil {
		return nil, fmt.Errorf("%s: %w", stateKey, err)
	}
	return list, nil
}

// Snapshot returns a copy of every instance, sorted by id.
func (t *Table[T, P]) Snapshot() []T {
	out := make([]T, 0, len(t.ids))
	for _, id := range t.ids {
		out = append(out, *t.byID[id])
	}
	return out
}

// IDs returns every instance id, sorted.
func (t *Table[T, P]) IDs() []string { return slices.Clone(t.ids) }

// Get returns the instance with the id, whoever asks.
func (t *Table[T, P]) Get(id string) (P, bool) {
	inst, ok := t.byID[id]
	return inst, ok
}

// Visible returns the instance if the caller's account owns it in the request's region.
func (t *Table[T, P]) Visible(r *Request, id string) (P, bool) {
	inst, ok := t.byID[id]
	if !ok {
		return nil, false
	}
	if at := inst.Where(); !r.Sees(at.Region, at.Account) {
		return nil, false
	}
	return inst, true
}

// List returns the instances visible to the request that carry every tag of tags and
// that keep accepts (nil: all), sorted by id. Under a list lag (r.ListLag) they are the
// index's copies, which a caller reads and never changes.
func (t *Table[T, P]) List(r *Request, tags []Tag, keep func(P) bool) []P {
	rows := t.byID
	if r.ListLag > 0 {
		rows = t.listIndex(r.Now, r.ListLag)
	}
	var out []P
	for _, id := range t.ids {
		inst := rows[id]
		at := inst.Where()
		if r.Sees(at.Region, at.Account) && HasTags(at.Tags, tags) && (keep == nil || keep(inst)) {
			out = append(out, inst)
		}
	}
	return out
}

// listCopier is an instance type whose copy for the list index must not share what its
// actions change in place (a map of parameters): ListCopy returns such a copy. Without it
// the index keeps a plain copy, its tags cloned.
type listCopier[T any] interface{ ListCopy() T }

// listIndex returns List's index, copied afresh from the instances once the copy it holds
// is lag old: the copy a list answers from is at most lag old.
func (t *Table[T, P]) listIndex(now time.Time, lag time.Duration) map[string]P {
	if t.index == nil || now.Sub(t.indexAt) >= lag {
		idx := make(map[string]P, len(t.byID))
		for id, inst := range t.byID {
			v := *inst
			if c, ok := any(inst).(listCopier[T]); ok {
				v = c.ListCopy()
			}
			cp := P(&v)
			cp.Where().Tags = maps.Clone(cp.Where().Tags)
			idx[id] = cp
		}
		t.index, t.indexAt = idx, now
	}
	return t.index
}

// Act is Actable.Act for the table's instances: busy, given the instance, returns its
// status when it is not ready for a change and "" when it is.
func (t *Table[T, P]) Act(id string, set map[string]any, busy func(P) string) (Change, func(time.Time), error) {
	inst, ok := t.byID[id]
	if !ok {
		return ActOn[T](nil, id, set, "")
	}
	return ActOn((*T)(inst), id, set, busy(inst))
}

// NotReady is Act's busy for a product whose instances take changes in one status: the
// status when it is not ready, "" when it is.
func NotReady(status, ready string) string {
	if status == ready {
		return ""
	}
	return status
}

// Tag is one tag: an instance's, as a list renders it, or a list call's filter.
type Tag struct {
	Key string
	// Value "" matches any value of the key, unless Exact.
	Value string
	// Exact makes an empty Value match only an empty value.
	Exact bool
}

// HasTags reports whether an instance's tags satisfy every filter.
func HasTags(have map[string]string, want []Tag) bool {
	for _, t := range want {
		v, ok := have[t.Key]
		if !ok || ((t.Value != "" || t.Exact) && v != t.Value) {
			return false
		}
	}
	return true
}

// SortedTags renders an instance's tags as a list answer carries them, sorted by key, in
// the product's own element type.
func SortedTags[V any](tags map[string]string, element func(key, value string) V) []V {
	out := make([]V, 0, len(tags))
	for _, k := range slices.Sorted(maps.Keys(tags)) {
		out = append(out, element(k, tags[k]))
	}
	return out
}

// Window returns items[offset : offset+limit], clipped to the items there are: the page
// of an offset/limit or page-number list.
func Window[V any](items []V, offset, limit int) []V {
	if offset < 0 || limit < 1 || offset >= len(items) {
		return nil
	}
	end := len(items)
	if limit < end-offset {
		end = offset + limit
	}
	return items[offset:end]
}

// PageAfter returns at most max rows, in order, whose id sorts after the id a NextToken
// named (NextTokenAfter), and the NextToken of the page that follows ("" when no row is
// left). rows must be sorted by id, as List returns them.
func PageAfter[T any, P Placed[T]](rows []P, after string, max int) (page []P, next string) {
	for _, it := range rows {
		id := it.Where().ID
		if id <= after {
			continue
		}
		if len(page) == max {
			return page, encodeNextToken(page[len(page)-1].Where().ID)
		}
		page = append(page, it)
	}
	return page, ""
}
