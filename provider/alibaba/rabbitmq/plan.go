package rabbitmq

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/upgradeplan/upgradeplan/provider"
)

// Observed facts the rules need besides the desired fields.
const (
	factChargeType = "chargeType" // "subscription" (OrderType PRE_PAID) or "payAsYouGo" (POST_PAID)
	factEdition    = "edition"    // "shared" or "dedicated"; GetInstance only
)

// notApplicable is what ListInstances and GetInstance report for a size that does not
// apply to the instance's edition (StorageSize on Professional and Enterprise instances).
const notApplicable = -1

// ActionUpdate is the mutating call.
const ActionUpdate = "UpdateInstance"

// ModifyType values.
const (
	modifyUp   = "UPGRADE"
	modifyDown = "DOWNGRADE"
)

// planned is one changed field: its current and desired value and direction.
type planned struct {
	f         field
	cur, want any
	dir       int
}

// planChanges applies the product rules to one instance. inst.Values must hold the current
// value of every desired field (GetInstance's too, when want names one of them).
func planChanges(inst provider.Instance, want provider.Desired) ([]provider.Change, error) {
	keys := make([]string, 0, len(want))
	for k := range want {
		keys = append(keys, k)
	}
	sort.Strings(keys)

	var errs []error
	rule := func(f, format string, args ...any) {
		errs = append(errs, &provider.RuleError{Field: f, Message: fmt.Sprintf(format, args...)})
	}
	desired := map[string]any{}
	for _, k := range keys {
		f, ok := fieldByName(k)
		if !ok {
			rule(k, "is not a RabbitMQ field; use %s", knownFields())
			continue
		}
		v, err := f.canonical(want[k])
		if err != nil {
			rule(k, "%v", err)
			continue
		}
		desired[k] = v
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}

	var changed []planned
	for _, f := range fields() {
		w, ok := desired[f.name]
		if !ok {
			continue
		}
		raw, ok := inst.Values[f.name]
		if !ok {
			return nil, fmt.Errorf("rabbitmq: %s: the current %s is unknown", inst.ID, f.name)
		}
		if n, isInt := provider.Int(raw); isInt && n == notApplicable {
			rule(f.name, "does not apply to %s instance %s (the API reports %s -1 for Professional and Enterprise instances): remove %s",
				inst.Values["instanceType"], inst.ID, f.param, f.name)
			continue
		}
		cur, err := f.canonical(raw)
		if err != nil && f.kind == kindEdition {
			// A pay-as-you-go instance reports an instanceType that is not an edition.
			cur, err = raw, nil
		}
		if err != nil {
			return nil, fmt.Errorf("rabbitmq: %s: current %s: %w", inst.ID, f.name, err)
		}
		if !provider.SameValue(cur, w) {
			changed = append(changed, planned{f: f, cur: cur, want: w, dir: f.direction(cur, w)})
		}
	}
	isChanged := func(name string) (planned, bool) {
		for _, c := range changed {
			if c.f.name == name {
				return c, true
			}
		}
		return planned{}, false
	}

	subscription := inst.Values[factChargeType] == "subscription"
	if c, ok := isChanged("instanceType"); ok && !subscription {
		rule("instanceType", "can change only on subscription instances; %s is pay-as-you-go (its type is %v): remove instanceType", inst.ID, c.cur)
	}
	if v, ok := desired["serverlessChargeType"]; ok && v != "onDemand" {
		rule("serverlessChargeType", "%q is not a serverless billing method; the only one is onDemand", v)
	} else if _, ok := isChanged("serverlessChargeType"); ok && subscription {
		rule("serverlessChargeType", "applies only to pay-as-you-go instances; %s is a subscription instance: remove serverlessChargeType", inst.ID)
	}

	encWant := desired["encrypted"]
	kmsWant, hasKms := desired["kmsKeyId"]
	if encWant == true && (!hasKms || kmsWant == "") {
		rule("encrypted", "encrypted: true needs kmsKeyId, the KMS key that encrypts the instance's storage")
	}
	if inst.Values[factEdition] == "dedicated" {
		if c, ok := isChanged("encrypted"); ok {
			rule("encrypted", "cannot change on dedicated instance %s (encrypted is %v there): remove encrypted or set it to %v", inst.ID, c.cur, c.cur)
		}
		if c, ok := isChanged("kmsKeyId"); ok {
			rule("kmsKeyId", "cannot change on dedicated instance %s (its key is %q): remove kmsKeyId or set it to %q", inst.ID, c.cur, c.cur)
		}
	} else if hasKms && kmsWant != "" && encWant != true {
		rule("kmsKeyId", "is used only with encrypted: true, which turns shared instance %s into an encrypted dedicated one", inst.ID)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if len(changed) == 0 {
		return nil, nil
	}

	var ups, downs []string
	for _, c := range changed {
		switch {
		case c.dir > 0:
			ups = append(ups, c.f.name)
		case c.dir < 0:
			downs = append(downs, c.f.name)
		}
	}
	var encNote []string
	if _, ok := isChanged("encrypted"); ok {
		encNote = append(encNote, "one-way: the shared instance becomes an encrypted dedicated instance, whose encryption can never change")
	}

	if len(ups) == 0 || len(downs) == 0 {
		modify := modifyUp
		if len(downs) > 0 {
			modify = modifyDown
		}
		step := change(inst.ID, modify, changed, func(c planned) any { return c.cur }, func(c planned) any { return c.want }, true)
		step.Notes = encNote
		return []provider.Change{step}, nil
	}

	// A mix: UPGRADE first with the raised values and the lowered ones at their current
	// values, then DOWNGRADE, so capacity never drops below the smaller of the two specs.
	mid := func(c planned) any {
		if c.dir < 0 {
			return c.cur
		}
		return c.want
	}
	up := change(inst.ID, modifyUp, changed, func(c planned) any { return c.cur }, mid, true)
	up.Notes = append([]string{fmt.Sprintf("step 1 of 2: raises %s; %s stay until the DOWNGRADE that follows", strings.Join(ups, ", "), strings.Join(downs, ", "))}, encNote...)
	// Once the UPGRADE made the instance dedicated, its encryption must not be sent again.
	down := change(inst.ID, modifyDown, changed, mid, func(c planned) any { return c.want }, false)
	down.Notes = []string{fmt.Sprintf("step 2 of 2: lowers %s after the UPGRADE", strings.Join(downs, ", "))}
	return []provider.Change{up, down}, nil
}

// change builds one UpdateInstance call over the changed fields, each at next(c), with from
// holding from(c). withEncryption false leaves out EncryptedInstance and KmsKeyId.
func change(id, modify string, changed []planned, from, next func(planned) any, withEncryption bool) provider.Change {
	ch := provider.Change{
		Action: ActionUpdate,
		Params: map[string]any{"InstanceId": id, "ModifyType": modify},
		From:   provider.Values{},
		To:     provider.Values{},
	}
	for _, c := range changed {
		if !withEncryption && (c.f.name == "encrypted" || c.f.name == "kmsKeyId") {
			continue
		}
		ch.Params[c.f.param] = next(c)
		ch.From[c.f.name] = from(c)
		ch.To[c.f.name] = next(c)
	}
	return ch
}

func knownFields() string {
	var names []string
	for _, f := range fields() {
		names = append(names, f.name)
	}
	return strings.Join(names, ", ")
}
