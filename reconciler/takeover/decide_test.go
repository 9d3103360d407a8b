package takeover

import (
	"reflect"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"helm.sh/helm/v3/pkg/chart"

	"github.com/digitops/digitops/source/manifest"
)

const dep, svc, cm = "Deployment/egov/egov-user", "Service/egov/egov-user", "ConfigMap/egov/egov-user"

func TestDecide(t *testing.T) {
	names := []string{dep, svc, cm}
	kubectl := Owner{Exists: true, Managers: []string{"kubectl-client-side-apply"}}
	tests := []struct {
		name string
		// mode is the environment's sync.adopt.
		mode manifest.AdoptMode
		// owners are the live counterparts of names that ReadLive found.
		owners map[string]Owner
		// adopt and refused are the decision's.
		adopt   []Adoption
		refused []string
		// hint: the refusal suggests sync.adopt: helm-releases.
		hint bool
	}{
		{
			name:   "nothing live: a plain install",
			mode:   manifest.AdoptUnowned,
			owners: map[string]Owner{},
		},
		{
			name:   "applied by kubectl: adopted, manager named",
			mode:   manifest.AdoptUnowned,
			owners: map[string]Owner{dep: kubectl, svc: {Exists: true}},
			adopt: []Adoption{
				{Object: dep, Owner: "managed by kubectl-client-side-apply"},
				{Object: svc, Owner: "no Helm owner"},
			},
		},
		{
			name:   "already this release's: Helm takes it itself",
			mode:   manifest.AdoptUnowned,
			owners: map[string]Owner{dep: {Exists: true, HelmRelease: "egov/egov-user"}},
		},
		{
			name:    "another Helm release's: refused, owner named",
			mode:    manifest.AdoptUnowned,
			owners:  map[string]Owner{dep: kubectl, cm: {Exists: true, HelmRelease: "egov/old-user"}},
			adopt:   []Adoption{{Object: dep, Owner: "managed by kubectl-client-side-apply"}},
			refused: []string{cm + " belongs to Helm release egov/old-user"},
			hint:    true,
		},
		{
			name:   "another Helm release's with adopt: helm-releases",
			mode:   manifest.AdoptHelmReleases,
			owners: map[string]Owner{cm: {Exists: true, HelmRelease: "egov/old-user"}},
			adopt:  []Adoption{{Object: cm, Owner: "Helm release egov/old-user", FromRelease: "egov/old-user"}},
		},
		{
			name:    "another digitops environment's release: refused even with helm-releases",
			mode:    manifest.AdoptHelmReleases,
			owners:  map[string]Owner{cm: {Exists: true, HelmRelease: "egov/user-prod", Environment: "prod"}},
			refused: []string{cm + " belongs to Helm release egov/user-prod of digitops environment prod, which digitops never takes from it"},
		},
		{
			name:    "adopt: none refuses every live object",
			mode:    manifest.AdoptNone,
			owners:  map[string]Owner{svc: kubectl},
			refused: []string{svc + " exists (sync.adopt is none)"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := Decide("dev", "egov-user", "egov", tt.mode, Live{Names: names, Owners: tt.owners})
			if (d.Hint != "") != tt.hint {
				t.Errorf("hint = %q, want one: %v", d.Hint, tt.hint)
			}
			if !reflect.DeepEqual(d.Adopt, tt.adopt) {
				t.Errorf("adopt = %+v, want %+v", d.Adopt, tt.adopt)
			}
			if !reflect.DeepEqual(d.Refused, tt.refused) {
				t.Errorf("refused = %q, want %q", d.Refused, tt.refused)
			}
		})
	}
}

// TestClaims: two installs of one plan never take the same object; an
// install refused for another reason claims nothing.
func TestClaims(t *testing.T) {
	take := func(objects ...string) Decision {
		var d Decision
		for _, o := range objects {
			d.Adopt = append(d.Adopt, Adoption{Object: o, Owner: "no Helm owner"})
		}
		return d
	}
	refusedHelm := take(svc)
	refusedHelm.Refused, refusedHelm.Hint = []string{cm + " belongs to Helm release egov/old-user"}, " (set sync.adopt: helm-releases to take them)"
	tests := []struct {
		name string
		// claimed are the claims before; release and d the install's.
		claimed Claims
		release string
		d       Decision
		// refused and hint are the decision after the claim; after the
		// claims.
		refused []string
		hint    string
		after   Claims
	}{
		{
			name:    "first install claims what it takes",
			claimed: Claims{},
			release: "user",
			d:       take(dep, svc),
			after:   Claims{dep: "user", svc: "user"},
		},
		{
			name:    "an object another install takes is refused, and the rest not claimed",
			claimed: Claims{svc: "user"},
			release: "user-v2",
			d:       take(dep, svc),
			refused: []string{svc + " is also rendered by release user"},
			after:   Claims{svc: "user"},
		},
		{
			name:    "a claimed object drops the hint of a refused install",
			claimed: Claims{svc: "user"},
			release: "user-v2",
			d:       refusedHelm,
			refused: []string{cm + " belongs to Helm release egov/old-user", svc + " is also rendered by release user"},
			after:   Claims{svc: "user"},
		},
		{
			name:    "a refused install claims nothing",
			claimed: Claims{},
			release: "user-v2",
			d:       refusedHelm,
			refused: refusedHelm.Refused,
			hint:    refusedHelm.Hint,
			after:   Claims{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := tt.claimed.Claim(tt.release, tt.d)
			if !reflect.DeepEqual(d.Refused, tt.refused) {
				t.Errorf("refused = %q, want %q", d.Refused, tt.refused)
			}
			if d.Hint != tt.hint {
				t.Errorf("hint = %q, want %q", d.Hint, tt.hint)
			}
			if !reflect.DeepEqual(d.Adopt, tt.d.Adopt) {
				t.Errorf("adopt = %+v, want it unchanged: %+v", d.Adopt, tt.d.Adopt)
			}
			if !reflect.DeepEqual(tt.claimed, tt.after) {
				t.Errorf("claims = %v, want %v", tt.claimed, tt.after)
			}
		})
	}
}

func TestKeptFields(t *testing.T) {
	live := map[string]*unstructured.Unstructured{dep: {Object: map[string]any{
		"spec": map[string]any{"template": map[string]any{"metadata": map[string]any{"annotations": map[string]any{"deployment-timestamp": "20251111000000"}}}},
	}}}
	paths := []string{
		dep + " /spec/template/metadata/annotations/deployment-timestamp",
		dep + " /spec/template/metadata/annotations/absent-live", // not live: the render's value
		cm + " /data/stamp",     // not adopted
		"Secret/egov/generated", // an object only one render has
	}
	want := map[string]map[string]any{dep: {"/spec/template/metadata/annotations/deployment-timestamp": "20251111000000"}}
	if got := KeptFields(paths, live); !reflect.DeepEqual(got, want) {
		t.Errorf("kept fields = %v, want %v", got, want)
	}
}

func TestRendersAlike(t *testing.T) {
	const stamp = dep + " /spec/template/metadata/annotations/deployment-timestamp"
	tests := []struct {
		name string
		// diffs are where the stored manifest and the render differ;
		// nondeterministic where two renders differ.
		diffs, nondeterministic []string
		want                    bool
	}{
		{name: "equal", want: true},
		{name: "only a stamp of the render's clock", diffs: []string{stamp}, nondeterministic: []string{stamp}, want: true},
		{name: "the render's CRDs: Helm's manifest never has them", diffs: []string{"CustomResourceDefinition/things.example.com"}, want: true},
		{name: "a field that renders the same every run", diffs: []string{stamp, dep + " /spec/replicas"}, nondeterministic: []string{stamp}},
		{name: "an object only one side has", diffs: []string{cm}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := RendersAlike(tt.diffs, tt.nondeterministic); got != tt.want {
				t.Errorf("RendersAlike = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestUsesReleaseName(t *testing.T) {
	tmpl := func(data string) []*chart.File {
		return []*chart.File{{Name: "templates/x.yaml", Data: []byte(data)}}
	}
	plain := func() *chart.Chart {
		return &chart.Chart{Metadata: &chart.Metadata{Name: "plain"}, Templates: tmpl("name: {{ .Values.name }}")}
	}
	named := &chart.Chart{Metadata: &chart.Metadata{Name: "named"}, Templates: tmpl("name: {{ .Release.Name }}-user")}
	inDependency := plain()
	inDependency.AddDependency(named)
	tests := []struct {
		name  string
		chart *chart.Chart
		want  bool
	}{
		{name: "no template reads it", chart: plain()},
		{name: "a template reads it", chart: named, want: true},
		{name: "a dependency's template reads it", chart: inDependency, want: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := UsesReleaseName(tt.chart); got != tt.want {
				t.Errorf("UsesReleaseName = %v, want %v", got, tt.want)
			}
		})
	}
}
