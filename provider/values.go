package provider

import (
	"encoding/json"
	"math"
	"strconv"
)

// This file is the one place that reads numbers out of Values and Desired: a value may be
// int64 (from the manifest or a provider), float64 or json.Number (from a plan file read
// back), or another Go integer type a provider put there.

// maxExact is the largest integer a float64 holds exactly.
const maxExact = 1 << 53

// Int reads a whole number from a JSON scalar in any of the forms Values hold. Strings,
// bools, fractions and numbers beyond int64 (or, for float64, beyond exact) are not whole
// numbers.
func Int(v any) (int64, bool) {
	switch x := v.(type) {
	case int:
		return int64(x), true
	case int32:
		return int64(x), true
	case int64:
		return x, true
	case uint32:
		return int64(x), true
	case uint64:
		if x > math.MaxInt64 {
			return 0, false
		}
		return int64(x), true
	case float64:
		if x != math.Trunc(x) || math.Abs(x) > maxExact {
			return 0, false
		}
		return int64(x), true
	case json.Number:
		n, err := x.Int64()
		return n, err == nil
	}
	return 0, false
}

// Text renders a JSON scalar as an API parameter takes it: strings as they are, bools as
// true/false, whole numbers without a fraction or exponent, other numbers in the shortest
// decimal form. ok is false for anything that is not a scalar.
func Text(v any) (s string, ok bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case bool:
		return strconv.FormatBool(x), true
	case json.Number:
		return x.String(), true
	case float64:
		if n, whole := Int(x); whole {
			return strconv.FormatInt(n, 10), true
		}
		return strconv.FormatFloat(x, 'f', -1, 64), true
	}
	if n, whole := Int(v); whole {
		return strconv.FormatInt(n, 10), true
	}
	return "", false
}
