package reconciler

import (
	"reflect"
	"strings"
	"testing"
)

func TestDecideOrphans(t *testing.T) {
	const (
		mine  = "dev/egov/kafka-kraft"
		svc   = "Service/egov/release-name-kafka-controller-headless"
		sec   = "Secret/egov/release-name-kafka-kraft-cluster-id"
		newer = "Service/egov/kafka-kraft-controller-headless"
	)
	const owner = "egov/kafka-kraft"
	cand := func(object, record string) adoptedCandidate {
		return adoptedCandidate{object: object, record: record, owner: owner}
	}
	tests := []struct {
		name     string
		prune    bool
		rendered []string
		cands    []adoptedCandidate
		want     []Orphan
	}{
		{
			name:     "still rendered: no orphan",
			rendered: []string{svc, sec},
			cands:    []adoptedCandidate{cand(svc, mine), cand(sec, mine)},
		},
		{
			name:     "no longer rendered, prune off: listed, kept",
			rendered: []string{newer},
			cands:    []adoptedCandidate{cand(svc, mine), cand(sec, mine)},
			want:     []Orphan{{Object: sec, Adopted: true}, {Object: svc, Adopted: true}},
		},
		{
			name:     "no longer rendered, prune on: deleted",
			prune:    true,
			rendered: []string{newer},
			cands:    []adoptedCandidate{cand(svc, mine)},
			want:     []Orphan{{Object: svc, Adopted: true, Delete: true}},
		},
		{
			name:     "labelled, but adopted by another environment's release of that name: not ours",
			prune:    true,
			rendered: []string{newer},
			cands:    []adoptedCandidate{cand(svc, "prod/egov/kafka-kraft"), cand(sec, "")},
		},
		{
			name:     "taken by another Helm release since: not its orphan",
			prune:    true,
			rendered: []string{newer},
			cands:    []adoptedCandidate{{object: svc, record: mine, owner: "egov/other"}, cand(sec, mine)},
			want:     []Orphan{{Object: sec, Adopted: true, Delete: true}},
		},
		{
			name:  "labelled by hand without the record: never deleted",
			prune: true,
			cands: []adoptedCandidate{cand(svc, "")},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rendered := map[string]bool{}
			for _, r := range tt.rendered {
				rendered[r] = true
			}
			got := decideOrphans(mine, owner, tt.prune, rendered, tt.cands)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("decideOrphans = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestHasAdoptedOrphans(t *testing.T) {
	tests := []struct {
		orphans            []Orphan
		adopted, allDelete bool
	}{
		{nil, false, false},
		{[]Orphan{{Object: "a"}}, false, false},
		{[]Orphan{{Object: "a"}, {Object: "b", Adopted: true}}, true, false},
		{[]Orphan{{Object: "a"}, {Object: "b", Adopted: true, Delete: true}}, true, true},
		{[]Orphan{{Object: "a", Adopted: true}, {Object: "b", Adopted: true, Delete: true}}, true, false},
	}
	for _, tt := range tests {
		adopted, all := hasAdoptedOrphans(tt.orphans)
		if adopted != tt.adopted || all != tt.allDelete {
			t.Errorf("hasAdoptedOrphans(%+v) = %v, %v; want %v, %v", tt.orphans, adopted, all, tt.adopted, tt.allDelete)
		}
	}
}

func TestOrphanString(t *testing.T) {
	for _, tt := range []struct {
		o    Orphan
		want string
	}{
		{Orphan{Object: "Service/egov/x"}, "never deletes it"},
		{Orphan{Object: "Service/egov/x", Adopted: true}, "kept, prune is off"},
		{Orphan{Object: "Service/egov/x", Adopted: true, Delete: true}, "deleted, prune is on"},
	} {
		if got := tt.o.String(); !strings.HasPrefix(got, tt.o.Object) || !strings.Contains(got, tt.want) {
			t.Errorf("%+v: %q, want it to name the object and say %q", tt.o, got, tt.want)
		}
	}
}
