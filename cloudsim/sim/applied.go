package sim

import (
	"container/heap"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"time"
)

// This file holds the simulator's ground truth: every change it applied (an accepted
// mutating call or another actor's change), when the change becomes visible to reads, and
// whether its caller got the answer. Eventual consistency lives here, once for every
// product: an accepted change is recorded at once and made, by its effect, only after the
// product's visibility lag; until then every action (lists, describes, and the checks of a
// further mutating call) sees the instance as it was.

// Change is what an accepted mutating call, or an actor, does to one instance, in the
// field names of the plan's `from` and `to`: From holds the values before, To the values
// asked for.
type Change struct {
	Instance string
	From, To map[string]any
}

// AppliedChange is one change the simulator applied, as GET /_sim/applied lists it.
type AppliedChange struct {
	// Seq numbers changes from 1 in the order they were accepted.
	Seq int `json:"seq"`
	// AcceptedAt is the simulated time the call was accepted (or the actor acted);
	// VisibleAt is AcceptedAt plus the visibility lag, when reads start to show it.
	AcceptedAt time.Time `json:"acceptedAt"`
	VisibleAt  time.Time `json:"visibleAt"`
	Product    string    `json:"product"`
	// Action is the API action; "" for an actor's change.
	Action   string `json:"action,omitempty"`
	Account  string `json:"account,omitempty"`
	Region   string `json:"region,omitempty"`
	Instance string `json:"instance"`
	// RequestID is the answer's request id ("" for an actor); ClientToken the call's
	// ClientToken parameter, if any.
	RequestID   string `json:"requestId,omitempty"`
	ClientToken string `json:"clientToken,omitempty"`
	// Actor names who changed the instance outside the API (a faults file actor); ""
	// means an API call, that is the tool under test.
	Actor string         `json:"actor,omitempty"`
	From  map[string]any `json:"from"`
	To    map[string]any `json:"to"`
	// Dropped is true when the caller never got the success answer: the connection was
	// closed ("drop") or an error was answered after the change was made (a fault with
	// apply: true). Fault names which.
	Dropped bool   `json:"dropped,omitempty"`
	Fault   string `json:"fault,omitempty"`
}

// Applied returns every change applied so far, oldest first.
func (s *Server) Applied() []AppliedChange {
	s.mu.Lock()
	defer s.mu.Unlock()
	_ = s.runDue()
	out := make([]AppliedChange, len(s.applied))
	for i, a := range s.applied {
		a.From, a.To = maps.Clone(a.From), maps.Clone(a.To)
		out[i] = a
	}
	return out
}

// Apply records an accepted change and runs effect, the change itself, once the
// product's visibility lag (plus any lag fault of this call) has passed; at lag 0 it runs
// at once, before the call is answered. Products call it last, after every check passed.
func (h host) Apply(c Change, effect func(now time.Time)) {
	s := h.s
	lag := s.lags[h.stateKey]
	rec := AppliedChange{
		Seq:        len(s.applied) + 1,
		AcceptedAt: s.base(),
		Product:    h.product,
		Instance:   c.Instance,
		From:       c.From,
		To:         c.To,
	}
	if h.c != nil {
		lag += h.c.lag
		rec.Action = h.c.rec.Action
		rec.Account = h.c.rec.Account
		rec.Region = h.c.rec.Region
		rec.RequestID = h.c.rec.RequestID
		rec.ClientToken = h.c.req.Params.Get("ClientToken")
		if rec.ClientToken == "" {
			var body struct{ ClientToken string }
			if json.Unmarshal(h.c.req.Body, &body) == nil {
				rec.ClientToken = body.ClientToken
			}
		}
		h.c.applied = append(h.c.applied, len(s.applied))
	} else {
		rec.Actor = h.actor
	}
	rec.VisibleAt = rec.AcceptedAt.Add(lag)
	s.applied = append(s.applied, rec)
	if lag <= 0 {
		effect(rec.AcceptedAt)
		return
	}
	h.After(lag, effect)
}

// markLost records that the caller of c did not get the answer to the changes it made.
func (s *Server) markLost(c *call, fault FaultKind) {
	for _, i := range c.applied {
		s.applied[i].Dropped = true
		s.applied[i].Fault = string(fault)
	}
}

// Actable is a product whose instances another actor (a person in the console, another
// tool) can change outside the API, as the faults file's actors do.
type Actable interface {
	Product
	// Act checks an actor's change of the instance's fields (the plan's field names) and
	// returns it with the effect that makes it. It returns ErrUnknownInstance when the
	// product has no such instance, an error wrapping ErrBusy when the instance is not
	// ready for a change, and another error when a field is not one the product has (or
	// its value has the wrong type). Act itself changes nothing.
	Act(id string, set map[string]any) (Change, func(now time.Time), error)
}

// Act's answers for an instance the product does not have, and for one that is busy.
var (
	ErrUnknownInstance = errors.New("no such instance")
	ErrBusy            = errors.New("the instance is busy")
)

// ActOn is Act for an instance stored as a struct with JSON field names (nil: the product
// has no such instance): it reads the current value of every field set names and returns
// the change and an effect that writes the new values into *inst. busy, when not "", is
// the status of an instance not ready for a change.
func ActOn[T any](inst *T, id string, set map[string]any, busy string) (Change, func(now time.Time), error) {
	if inst == nil {
		return Change{}, nil, ErrUnknownInstance
	}
	fields := jsonFields(inst)
	ch := Change{Instance: id, From: map[string]any{}, To: map[string]any{}}
	for k, v := range set {
		old, ok := fields[k]
		if !ok {
			return Change{}, nil, fmt.Errorf("%s has no field %q", id, k)
		}
		ch.From[k], ch.To[k] = old, v
	}
	patch, err := json.Marshal(set)
	if err != nil {
		return Change{}, nil, err
	}
	var probe T
	if err := json.Unmarshal(patch, &probe); err != nil {
		return Change{}, nil, fmt.Errorf("%s: %w", id, err)
	}
	if busy != "" {
		return Change{}, nil, fmt.Errorf("%w: %s is %s", ErrBusy, id, busy)
	}
	return ch, func(time.Time) { _ = json.Unmarshal(patch, inst) }, nil
}

// Diff is the change from before to after, two values of one struct type with JSON field
// names: the fields whose JSON values differ, in From and To.
func Diff(id string, before, after any) Change {
	b, a := jsonFields(before), jsonFields(after)
	ch := Change{Instance: id, From: map[string]any{}, To: map[string]any{}}
	for k, v := range a {
		if old, ok := b[k]; !ok || !reflect.DeepEqual(old, v) {
			ch.From[k], ch.To[k] = old, v
		}
	}
	return ch
}

func jsonFields(v any) map[string]any {
	raw, _ := json.Marshal(v)
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	return m
}

// actor is one entry of the faults file's actors.
type actor struct {
	Name     string         `yaml:"name"`
	At       time.Duration  `yaml:"at"`
	Instance string         `yaml:"instance"`
	Set      map[string]any `yaml:"set"`
}

// scheduleActors checks every actor against the products and schedules its change at its
// simulated time.
func (s *Server) scheduleActors(actors []actor) error {
	for i, a := range actors {
		if a.At < 0 || a.Instance == "" || len(a.Set) == 0 {
			return fmt.Errorf("sim: faults: actors[%d]: at (not negative), instance and set are required", i)
		}
		name := a.Name
		if name == "" {
			name = fmt.Sprintf("actor-%d", i+1)
		}
		if err := s.scheduleActor(name, s.realStart.Add(a.At), a.Instance, a.Set); err != nil {
			return fmt.Errorf("sim: faults: actors[%d]: %w", i, err)
		}
	}
	return nil
}

// ActAt schedules another actor's change of an instance at the simulated time at, as the
// faults file's actors do, for a test that learns the moment while it runs. An instance
// busy at that time is left alone (the console would refuse the change) and the applied
// record has no entry for it.
func (s *Server) ActAt(name string, at time.Time, instance string, set map[string]any) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.scheduleActor(name, at, instance, set)
}

func (s *Server) scheduleActor(name string, at time.Time, instance string, set map[string]any) error {
	p, err := s.actable(instance, set)
	if err != nil {
		return err
	}
	s.seq++
	heap.Push(&s.sched, transition{due: at, seq: s.seq, fn: func(time.Time) {
		ch, effect, err := p.Act(instance, set)
		if err != nil {
			return
		}
		host{s: s, product: p.Name(), stateKey: p.StateKey(), actor: name}.Apply(ch, effect)
	}})
	return nil
}

// actable returns the product that has the instance, checking the actor's fields (when
// the instance is busy now, only at the actor's time).
func (s *Server) actable(id string, set map[string]any) (Actable, error) {
	for _, e := range s.products {
		a, ok := e.p.(Actable)
		if !ok {
			continue
		}
		_, _, err := a.Act(id, set)
		switch {
		case errors.Is(err, ErrUnknownInstance):
			continue
		case err == nil || errors.Is(err, ErrBusy):
			return a, nil
		}
		return nil, err
	}
	return nil, fmt.Errorf("no product that actors can change has the instance %q", id)
}
