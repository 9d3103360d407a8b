package drift

import (
	"context"
	"errors"
	"fmt"
	"sort"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/util/retry"

	"github.com/digitops/digitops/internal/redact"
	"github.com/digitops/digitops/reconciler/kube"
	"github.com/digitops/digitops/source/manifest"
)

// ErrReleaseMoved is wrapped by Restore's error when the release got a new
// revision after it was planned: the drift is left to the next check.
var ErrReleaseMoved = errors.New("the release moved since it was planned")

// Restore puts the drifted objects of a deployed release back the way the
// release deployed them, in place (no new Helm revision): it re-reads the
// drift with GETs (the correction writes back what it read; the cluster may
// have moved since the plan), re-creates deleted objects with Helm's
// ownership metadata, and updates the others (an optimistic-concurrency
// PUT, retried on conflict with a fresh read) as Helm's field manager, with
// the fields the chart sets put back and the fields foreign managers added
// removed. Fields of allowed managers, server defaults and status stay.
//
// It returns how many objects it corrected; on error the objects corrected
// so far stay corrected and the error names the others. When the release
// has a newer revision than live (an upgrade since the plan), it corrects
// nothing and returns an error that wraps ErrReleaseMoved: putting back the
// older revision's objects would undo the upgrade.
func Restore(ctx context.Context, c *kube.Cluster, spec manifest.ReleaseSpec, live *kube.LiveRelease, policy manifest.SyncPolicy) (int, error) {
	d, err := NewDirectDetector(c)
	if err != nil {
		return 0, err
	}
	newest, err := kube.NewestRevision(ctx, c, spec.Namespace, spec.Name)
	if err != nil {
		return 0, err
	}
	if newest != live.Version {
		return 0, fmt.Errorf("unable to correct drift of release %q: planned against revision %d, the release is at %d: %w", spec.Name, live.Version, newest, ErrReleaseMoved)
	}
	objs, err := d.inspect(ctx, spec, live, policy)
	if err != nil {
		return 0, fmt.Errorf("unable to correct drift of release %q: %w", spec.Name, err)
	}
	opts := newCompareOptions(spec, policy)
	var errs []error
	corrected := 0
	for _, o := range objs {
		if len(o.findings) == 0 {
			continue
		}
		if err := correct(ctx, d, o, spec, opts); err != nil {
			errs = append(errs, fmt.Errorf("unable to correct %s: %w", redact.Secrets(kube.Ref(o.desired), opts.secrets), err))
			continue
		}
		corrected++
	}
	return corrected, errors.Join(errs...)
}

// correct restores one object, retrying on a write conflict with a fresh
// read.
func correct(ctx context.Context, d *Detector, o objectDrift, spec manifest.ReleaseSpec, opts compareOptions) error {
	manager := HelmFieldManager()
	first := true
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if !first {
			fresh, err := d.inspectObject(ctx, o.desired, spec.Namespace, opts)
			if err != nil {
				return err
			}
			o = fresh
		}
		first = false
		if len(o.findings) == 0 {
			return nil
		}
		if o.live == nil {
			obj := o.desired.DeepCopy()
			helmOwnership(obj, spec.Name, spec.Namespace)
			_, err := o.client.Create(ctx, obj, metav1.CreateOptions{FieldManager: manager})
			return err
		}
		obj := o.live.DeepCopy()
		if err := applyFindings(obj, o.findings); err != nil {
			return err
		}
		_, err := o.client.Update(ctx, obj, metav1.UpdateOptions{FieldManager: manager})
		return err
	})
}

// applyFindings puts an object back the way the release deployed it: values
// set (changed and removed fields) first, then foreign additions deleted,
// deepest and highest index first so that indices stay valid, then removed
// list items appended.
func applyFindings(obj *unstructured.Unstructured, findings []finding) error {
	var deletes, appends []finding
	for _, f := range findings {
		switch {
		case f.Kind == Added:
			deletes = append(deletes, f)
		case len(f.loc) > 0 && f.loc[len(f.loc)-1] == -1:
			appends = append(appends, f)
		default:
			if err := setAt(obj.Object, f.loc, runtime.DeepCopyJSONValue(f.desired)); err != nil {
				return err
			}
		}
	}
	sort.SliceStable(deletes, func(i, j int) bool { return locAfter(deletes[i].loc, deletes[j].loc) })
	for _, f := range deletes {
		if err := deleteAt(obj.Object, f.loc); err != nil {
			return err
		}
	}
	for _, f := range appends {
		parent := f.loc[:len(f.loc)-1]
		list, err := getAt(obj.Object, parent)
		if err != nil {
			return err
		}
		l, _ := list.([]any)
		if err := setAt(obj.Object, parent, append(l, runtime.DeepCopyJSONValue(f.desired))); err != nil {
			return err
		}
	}
	return nil
}

// locAfter orders locations so that a later list index comes first.
func locAfter(a, b []any) bool {
	for i := 0; i < len(a) && i < len(b); i++ {
		ai, aInt := a[i].(int)
		bi, bInt := b[i].(int)
		if aInt && bInt && ai != bi {
			return ai > bi
		}
	}
	return len(a) > len(b)
}

func getAt(obj any, loc []any) (any, error) {
	cur := obj
	for _, step := range loc {
		switch k := step.(type) {
		case string:
			m, ok := cur.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("no map at %v", loc)
			}
			cur = m[k]
		case int:
			l, ok := cur.([]any)
			if !ok || k < 0 || k >= len(l) {
				return nil, fmt.Errorf("no list item at %v", loc)
			}
			cur = l[k]
		}
	}
	return cur, nil
}

func setAt(obj map[string]any, loc []any, v any) error {
	if len(loc) == 0 {
		return fmt.Errorf("empty location")
	}
	parent, err := getAt(obj, loc[:len(loc)-1])
	if err != nil {
		return err
	}
	switch k := loc[len(loc)-1].(type) {
	case string:
		m, ok := parent.(map[string]any)
		if !ok {
			return fmt.Errorf("no map at %v", loc)
		}
		m[k] = v
	case int:
		l, ok := parent.([]any)
		if !ok || k < 0 || k >= len(l) {
			return fmt.Errorf("no list item at %v", loc)
		}
		l[k] = v
	}
	return nil
}

func deleteAt(obj map[string]any, loc []any) error {
	if len(loc) == 0 {
		return fmt.Errorf("empty location")
	}
	parentLoc := loc[:len(loc)-1]
	parent, err := getAt(obj, parentLoc)
	if err != nil {
		return err
	}
	switch k := loc[len(loc)-1].(type) {
	case string:
		if m, ok := parent.(map[string]any); ok {
			delete(m, k)
		}
	case int:
		l, ok := parent.([]any)
		if !ok || k < 0 || k >= len(l) {
			return fmt.Errorf("no list item at %v", loc)
		}
		return setAt(obj, parentLoc, append(append([]any{}, l[:k]...), l[k+1:]...))
	}
	return nil
}
