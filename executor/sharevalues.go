package executor

import (
	"encoding/json"
	"slices"
	"strconv"

	"github.com/upgradeplan/upgradeplan/provider"
)

// observedValues makes the observed values a run keeps (every step's before and after,
// held until the run ends) share one map per distinct content: a fleet's instances show a
// few distinct versions and sizes, and each poll answers with maps of its own (some 700
// bytes a step at 100,000 steps). The maps are read only, as the record and the machine
// treat them. Guarded by run.mu.
type observedValues struct {
	maps map[string]provider.Values
	key  []byte
}

// share is the map kept for v's content: v itself the first time, or when v holds
// anything but scalars.
func (o *observedValues) share(v provider.Values) provider.Values {
	if len(v) == 0 || len(v) > 16 {
		return v
	}
	if o.maps == nil {
		o.maps = map[string]provider.Values{}
	}
	var few [16]string
	keys := few[:0]
	for k := range v {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b := o.key[:0]
	for _, k := range keys {
		b = append(append(b, k...), 0)
		switch x := v[k].(type) {
		case string:
			b = append(append(b, 's'), x...)
		case json.Number:
			b = append(append(b, 'n'), x...)
		case int:
			b = strconv.AppendInt(append(b, 'i'), int64(x), 10)
		case int64:
			b = strconv.AppendInt(append(b, 'l'), x, 10)
		case float64:
			b = strconv.AppendFloat(append(b, 'f'), x, 'g', -1, 64)
		case bool:
			b = strconv.AppendBool(append(b, 'b'), x)
		default:
			o.key = b
			return v
		}
		b = append(b, 0)
	}
	o.key = b
	if have, ok := o.maps[string(b)]; ok {
		return have
	}
	o.maps[string(b)] = v
	return v
}
