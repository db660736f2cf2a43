package sim

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"time"

	"gopkg.in/yaml.v3"
)

// FaultKind names what a fault rule does to a matching call.
type FaultKind string

const (
	// FaultInternalError answers HTTP 500 InternalError (TC3: HTTP 200 with
	// Response.Error.Code InternalError) without calling the product.
	FaultInternalError FaultKind = "internal-error"
	// FaultUnavailable answers HTTP 503 ServiceUnavailable without calling the product.
	// TC3 answers HTTP 503 too, with a Response.Error body; the Tencent SDK reports its
	// code, ServiceUnavailable.
	FaultUnavailable FaultKind = "unavailable"
	// FaultThrottle answers the cloud's throttling error (Throttling.User HTTP 400;
	// RequestLimitExceeded) without calling the product.
	FaultThrottle FaultKind = "throttle"
	// FaultLatency delays the call by the rule's latency (real time, not scaled) and then
	// handles it normally.
	FaultLatency FaultKind = "latency"
	// FaultDrop calls the product, so the change is applied, then closes the connection
	// without answering: the ambiguous outcome.
	FaultDrop FaultKind = "drop"
	// FaultLag adds the rule's lag (simulated time, scaled like durations) to the
	// product's visibility lag of a change the call makes, and handles it normally.
	FaultLag FaultKind = "lag"
)

// faultRule is one rule of a faults file.
type faultRule struct {
	Product  string        `yaml:"product"`  // product Name(); "" or "*" = any
	Action   string        `yaml:"action"`   // "" or "*" = any
	Instance string        `yaml:"instance"` // "" = any
	Rate     *float64      `yaml:"rate"`     // probability in [0, 1]; absent = 1
	Fault    FaultKind     `yaml:"fault"`
	Latency  time.Duration `yaml:"latency"`
	Lag      time.Duration `yaml:"lag"`
	// Apply makes an internal-error or unavailable fault call the product first, so a
	// change is made and its answer lost to the error: the 5xx whose outcome is unknown.
	Apply bool `yaml:"apply"`
	Times int  `yaml:"times"` // fire at most this many times; 0 = no limit
	// errorFault holds code, status, message and after (fault: error; faults_errors.go).
	errorFault `yaml:",inline"`

	fired int
}

type faultsFile struct {
	Seed         uint64      `yaml:"seed"`
	Rules        []faultRule `yaml:"rules"`
	FailUpgrades []string    `yaml:"failUpgrades"`
	Actors       []actor     `yaml:"actors"`
}

// faults is the parsed faults file plus its deterministic random source.
type faults struct {
	rules        []*faultRule
	failUpgrades map[string]bool
	actors       []actor
	rng          *rand.Rand
}

func parseFaults(src []byte) (*faults, error) {
	f := &faults{failUpgrades: map[string]bool{}, rng: rand.New(rand.NewPCG(0, 0))}
	if len(bytes.TrimSpace(src)) == 0 {
		return f, nil
	}
	var file faultsFile
	dec := yaml.NewDecoder(bytes.NewReader(src))
	dec.KnownFields(true)
	if err := dec.Decode(&file); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("sim: faults: %w", err)
	}
	f.rng = rand.New(rand.NewPCG(file.Seed, file.Seed^0x9e3779b97f4a7c15))
	for i := range file.Rules {
		r := &file.Rules[i]
		if err := r.validateError(i); err != nil {
			return nil, err
		}
		if r.Latency != 0 && r.Fault != FaultLatency {
			return nil, fmt.Errorf("sim: faults: rules[%d]: latency is only for fault: latency", i)
		}
		if r.Lag != 0 && r.Fault != FaultLag {
			return nil, fmt.Errorf("sim: faults: rules[%d]: lag is only for fault: lag", i)
		}
		if r.Apply && r.Fault != FaultInternalError && r.Fault != FaultUnavailable {
			return nil, fmt.Errorf("sim: faults: rules[%d]: apply is only for fault: internal-error or unavailable (fault: error has after: accept)", i)
		}
		switch r.Fault {
		case FaultError:
		case FaultInternalError, FaultUnavailable, FaultThrottle, FaultDrop:
		case FaultLatency:
			if r.Latency <= 0 {
				return nil, fmt.Errorf("sim: faults: rules[%d]: fault latency needs a positive latency like 200ms", i)
			}
		case FaultLag:
			if r.Lag <= 0 {
				return nil, fmt.Errorf("sim: faults: rules[%d]: fault lag needs a positive lag like 30s", i)
			}
		case "":
			return nil, fmt.Errorf("sim: faults: rules[%d]: fault is missing (%s)", i, faultKinds)
		default:
			return nil, fmt.Errorf("sim: faults: rules[%d]: unknown fault %q (%s)", i, r.Fault, faultKinds)
		}
		if r.Rate != nil && (*r.Rate < 0 || *r.Rate > 1) {
			return nil, fmt.Errorf("sim: faults: rules[%d]: rate %v is not between 0 and 1", i, *r.Rate)
		}
		if r.Times < 0 {
			return nil, fmt.Errorf("sim: faults: rules[%d]: times %d is negative", i, r.Times)
		}
		f.rules = append(f.rules, r)
	}
	for _, id := range file.FailUpgrades {
		f.failUpgrades[id] = true
	}
	f.actors = file.Actors
	return f, nil
}

const faultKinds = "internal-error, unavailable, throttle, latency, lag, drop or error"

// drawn is what the fault rules decided for one call.
type drawn struct {
	latency time.Duration // real time to sleep before the call is handled
	lag     time.Duration // added to the visibility lag of the call's change
	hit     *faultRule    // the rule that shapes the answer, nil for none
}

// draw decides the faults of one call: the summed latency and lag of every latency and
// lag rule that fires, and the first other rule that fires (nil for none). Rules are
// tried in file order and evaluation stops at the first firing rule of another kind; a
// rule whose rate is below 1 consumes one number from the seeded source each time it is
// tried, so a given sequence of calls meets the same faults on every run.
func (f *faults) draw(product, action, instance string) (d drawn) {
	for _, r := range f.rules {
		if !matches(r.Product, product) || !matches(r.Action, action) || (r.Instance != "" && r.Instance != instance) {
			continue
		}
		if r.Times > 0 && r.fired >= r.Times {
			continue
		}
		if r.Rate != nil && *r.Rate < 1 && f.rng.Float64() >= *r.Rate {
			continue
		}
		r.fired++
		switch r.Fault {
		case FaultLatency:
			d.latency += r.Latency
			continue
		case FaultLag:
			d.lag += r.Lag
			continue
		}
		d.hit = r
		return d
	}
	return d
}

func matches(pattern, v string) bool { return pattern == "" || pattern == "*" || pattern == v }
