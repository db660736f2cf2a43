package sim

import (
	"fmt"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Reserved top-level keys of the state file; every other key belongs to a product.
const (
	keyAccounts  = "accounts"
	keyQPS       = "qps"
	keyDurations = "durations"
	keyLags      = "visibilityLag"
	keyListLags  = "listLag"
)

// state is the server-level part of a state file.
type state struct {
	accounts  []*Account
	qps       map[string]int
	durations map[string]time.Duration
	lags      map[string]time.Duration // visibility lag by state key
	listLags  map[string]time.Duration // list index lag by state key
	products  map[string]*yaml.Node    // by state key
}

// parseState splits a state file into its server-level parts and one node per product
// state key. known lists the state keys of the wired products.
func parseState(src []byte, known map[string]bool) (*state, error) {
	st := &state{
		qps:       map[string]int{},
		durations: map[string]time.Duration{},
		lags:      map[string]time.Duration{},
		listLags:  map[string]time.Duration{},
		products:  map[string]*yaml.Node{},
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		return nil, fmt.Errorf("sim: state: %w", err)
	}
	if doc.Kind == 0 { // empty file
		return st, nil
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, fmt.Errorf("sim: state: line %d: the state file must be a mapping of top-level keys", doc.Line)
	}
	root := doc.Content[0]
	seen := map[string]bool{}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		if seen[k.Value] {
			return nil, fmt.Errorf("sim: state: line %d: key %q appears twice", k.Line, k.Value)
		}
		seen[k.Value] = true
		switch k.Value {
		case keyAccounts:
			if err := v.Decode(&st.accounts); err != nil {
				return nil, fmt.Errorf("sim: state: accounts: %w", err)
			}
		case keyQPS:
			if err := v.Decode(&st.qps); err != nil {
				return nil, fmt.Errorf("sim: state: qps: %w", err)
			}
			for key := range st.qps {
				if p, a, ok := strings.Cut(key, "/"); !ok || p == "" || a == "" {
					return nil, fmt.Errorf("sim: state: line %d: qps key %q is not \"product/Action\"", v.Line, key)
				}
			}
		case keyDurations:
			if err := decodeDurations(v, keyDurations, "duration", st.durations); err != nil {
				return nil, err
			}
		case keyLags:
			if err := decodeDurations(v, keyLags, "visibility lag", st.lags); err != nil {
				return nil, err
			}
		case keyListLags:
			if err := decodeDurations(v, keyListLags, "list lag", st.listLags); err != nil {
				return nil, err
			}
		default:
			if !known[k.Value] {
				return nil, fmt.Errorf("sim: state: line %d: unknown key %q (no simulated product has this state key)", k.Line, k.Value)
			}
			st.products[k.Value] = v
		}
	}
	if err := checkAccounts(st.accounts); err != nil {
		return nil, err
	}
	return st, nil
}

// decodeDurations reads a mapping of state key to Go duration (what names one in errors)
// into into.
func decodeDurations(v *yaml.Node, key, what string, into map[string]time.Duration) error {
	var raw map[string]string
	if err := v.Decode(&raw); err != nil {
		return fmt.Errorf("sim: state: %s: %w", key, err)
	}
	for k, s := range raw {
		d, err := time.ParseDuration(s)
		if err != nil || d < 0 {
			return fmt.Errorf("sim: state: line %d: %s of %q: %q is not a Go duration like 90s or 20m", v.Line, what, k, s)
		}
		into[k] = d
	}
	return nil
}

func checkAccounts(accts []*Account) error {
	names := map[string]bool{}
	keys := map[string]bool{}
	for i, a := range accts {
		if a == nil {
			return fmt.Errorf("sim: state: accounts[%d] is empty", i)
		}
		switch {
		case a.Name == "":
			return fmt.Errorf("sim: state: accounts[%d]: name is missing", i)
		case a.Cloud != "alibaba" && a.Cloud != "tencent":
			return fmt.Errorf("sim: state: account %q: cloud is %q, want alibaba or tencent", a.Name, a.Cloud)
		case a.KeyID == "" || a.Secret == "":
			return fmt.Errorf("sim: state: account %q: keyId and secret are required", a.Name)
		case names[a.Name]:
			return fmt.Errorf("sim: state: account %q appears twice", a.Name)
		case keys[a.Cloud+"/"+a.KeyID]:
			return fmt.Errorf("sim: state: account %q: key id %q is already used by another %s account", a.Name, a.KeyID, a.Cloud)
		}
		names[a.Name] = true
		keys[a.Cloud+"/"+a.KeyID] = true
	}
	return nil
}
