package drift

import (
	"encoding/json"
	"fmt"

	"k8s.io/apimachinery/pkg/api/resource"
)

// How the comparison tells two values apart: numbers by value, null maps
// as absent, empty values as unset.

func scalarString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case nil:
		return "null"
	case map[string]any, []any:
		b, err := json.Marshal(x)
		if err != nil {
			return fmt.Sprint(x)
		}
		return string(b)
	default:
		return fmt.Sprint(x)
	}
}

// valuesEqual compares values as the apiserver would have stored them:
// numbers by value, and quantities ("0.5" and "500m") by amount.
func valuesEqual(a, b any) bool {
	switch x := a.(type) {
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(nonNull(x)) != len(nonNull(y)) {
			return false
		}
		for k, v := range x {
			if v == nil {
				continue
			}
			if !valuesEqual(v, y[k]) {
				return false
			}
		}
		return true
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !valuesEqual(x[i], y[i]) {
				return false
			}
		}
		return true
	}
	if a == b {
		return true
	}
	fa, aNum := number(a)
	fb, bNum := number(b)
	if aNum && bNum {
		return fa == fb
	}
	_, aStr := a.(string)
	_, bStr := b.(string)
	if (aStr || aNum) && (bStr || bNum) && (aStr || bStr) {
		qa, errA := resource.ParseQuantity(scalarString(a))
		qb, errB := resource.ParseQuantity(scalarString(b))
		return errA == nil && errB == nil && qa.Cmp(qb) == 0
	}
	return false
}

func nonNull(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		if v != nil {
			out[k] = v
		}
	}
	return out
}

func number(v any) (float64, bool) {
	switch x := v.(type) {
	case int64:
		return float64(x), true
	case int:
		return float64(x), true
	case int32:
		return float64(x), true
	case float64:
		return x, true
	case json.Number:
		f, err := x.Float64()
		return f, err == nil
	}
	return 0, false
}

// isEmptyValue reports values the apiserver drops when it stores an object
// (null, "", false, 0, {} and [] — recursively), which are not drift when
// missing.
func isEmptyValue(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return x == ""
	case bool:
		return !x
	case map[string]any:
		for _, e := range x {
			if !isEmptyValue(e) {
				return false
			}
		}
		return true
	case []any:
		return len(x) == 0
	}
	if f, ok := number(v); ok {
		return f == 0
	}
	return false
}
