package rabbitmq

import (
	"fmt"

	"github.com/upgradeplan/upgradeplan/provider"
)

// kind is how a field's values compare.
type kind int

const (
	kindInt     kind = iota // bigger is up
	kindBool                // true is up (a feature switched on)
	kindEdition             // professional < enterprise < vip
	kindString              // no direction: travels with the other changes
)

// field is one `desired` field and the UpdateInstance parameter that sets it.
type field struct {
	name  string // the manifest's desired name
	param string // the UpdateInstance parameter
	kind  kind
	// detail is true when only GetInstance reports the current value.
	detail bool
}

// fields lists every desired field in the order parameters are planned.
func fields() []field {
	return []field{
		{name: "instanceType", param: "InstanceType", kind: kindEdition},
		{name: "maxPrivateTps", param: "MaxPrivateTps", kind: kindInt},
		{name: "queueCapacity", param: "QueueCapacity", kind: kindInt},
		{name: "maxConnections", param: "MaxConnections", kind: kindInt, detail: true},
		{name: "storageSize", param: "StorageSize", kind: kindInt},
		{name: "supportEip", param: "SupportEip", kind: kindBool},
		{name: "maxEipTps", param: "MaxEipTps", kind: kindInt},
		{name: "supportTracing", param: "SupportTracing", kind: kindBool, detail: true},
		{name: "tracingStorageTime", param: "TracingStorageTime", kind: kindInt, detail: true},
		{name: "serverlessChargeType", param: "ServerlessChargeType", kind: kindString, detail: true},
		{name: "encrypted", param: "EncryptedInstance", kind: kindBool, detail: true},
		{name: "kmsKeyId", param: "KmsKeyId", kind: kindString, detail: true},
	}
}

func fieldByName(name string) (field, bool) {
	for _, f := range fields() {
		if f.name == name {
			return f, true
		}
	}
	return field{}, false
}

// needsDetail reports whether any key of vals is a field only GetInstance reports.
func needsDetail(vals map[string]any) bool {
	for k := range vals {
		if f, ok := fieldByName(k); ok && f.detail {
			return true
		}
	}
	return false
}

// editionRank orders subscription editions; 0 is not an edition.
func editionRank(t string) int {
	switch t {
	case "professional":
		return 1
	case "enterprise":
		return 2
	case "vip":
		return 3
	}
	return 0
}

// asInt64 reads a whole, non-negative number in any of the forms Values hold.
func asInt64(v any) (int64, bool) {
	n, ok := provider.Int(v)
	return n, ok && n >= 0
}

// canonical converts a desired or observed value to the field's Go type (int64, bool or
// string), or explains what is wrong with it.
func (f field) canonical(v any) (any, error) {
	switch f.kind {
	case kindInt:
		if n, ok := asInt64(v); ok {
			return n, nil
		}
		return nil, fmt.Errorf("%v is not a whole, non-negative number", v)
	case kindBool:
		if b, ok := v.(bool); ok {
			return b, nil
		}
		return nil, fmt.Errorf("%v is not true or false", v)
	case kindEdition:
		s, ok := v.(string)
		if !ok || editionRank(s) == 0 {
			return nil, fmt.Errorf("%v is not professional, enterprise or vip", v)
		}
		return s, nil
	default:
		if s, ok := v.(string); ok {
			return s, nil
		}
		return nil, fmt.Errorf("%v is not a string", v)
	}
}

// direction is +1 when going from cur to next is an upgrade, -1 a downgrade, 0 neither.
func (f field) direction(cur, next any) int {
	switch f.kind {
	case kindInt:
		a, _ := asInt64(cur)
		b, _ := asInt64(next)
		switch {
		case b > a:
			return 1
		case b < a:
			return -1
		}
	case kindBool:
		a, _ := cur.(bool)
		b, _ := next.(bool)
		switch {
		case b && !a:
			return 1
		case a && !b:
			return -1
		}
	case kindEdition:
		a, _ := cur.(string)
		b, _ := next.(string)
		switch d := editionRank(b) - editionRank(a); {
		case d > 0:
			return 1
		case d < 0:
			return -1
		}
	}
	return 0
}

// paramString renders a planned parameter value as the API receives it, whatever form a
// plan file read back gives it (int64, float64, json.Number, bool, string).
func paramString(v any) (string, error) {
	if s, ok := provider.Text(v); ok {
		return s, nil
	}
	return "", fmt.Errorf("unsupported parameter value %T", v)
}
