package gen_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/digitops/digitops/bench/gen"
	"github.com/digitops/digitops/source/manifest"
	"github.com/digitops/digitops/source/manifest/loader"
)

// TestGenerate_layoutsAgree loads both environments of a generated
// repository with digitops's own loader and checks that they are the same
// desired state: names, order constraints, charts, values and namespaces.
func TestGenerate_layoutsAgree(t *testing.T) {
	tests := []struct {
		name string
		// opts are the generator's options (Dir is set by the test).
		opts gen.Options
	}{
		{name: "five services", opts: gen.Options{Services: 5}},
		{name: "default forty", opts: gen.Options{}},
		{name: "a tag override", opts: gen.Options{Services: 12, Tags: map[string]string{"egov-idgen": "v9.9.9-beef"}}},
		{name: "no timestamp", opts: gen.Options{Services: 3, DisableAnnotationTimestamp: true}},
		{name: "a replicas override", opts: gen.Options{Services: 5, Replicas: map[string]int{"egov-location": 2}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			tt.opts.Dir = t.TempDir()
			repo, err := gen.Generate(ctx, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			digit := loadEnv(t, tt.opts.Dir, gen.DigitEnvironment)
			hf := loadEnv(t, tt.opts.Dir, gen.HelmfileEnvironment)
			if len(digit.Releases) != len(repo.Services) || len(hf.Releases) != len(repo.Services) {
				t.Fatalf("releases: digit %d, helmfile %d, want %d", len(digit.Releases), len(hf.Releases), len(repo.Services))
			}
			byName := map[string]manifest.ReleaseSpec{}
			for _, r := range hf.Releases {
				byName[r.Name] = r
			}
			for _, d := range digit.Releases {
				h, ok := byName[d.Name]
				if !ok {
					t.Fatalf("release %q is in the digit layout only", d.Name)
				}
				if d.Namespace != gen.Namespace || h.Namespace != gen.Namespace {
					t.Errorf("%s: namespaces %q (digit) and %q (helmfile), want %q", d.Name, d.Namespace, h.Namespace, gen.Namespace)
				}
				if d.Chart.Path != h.Chart.Path {
					t.Errorf("%s: charts %q (digit) and %q (helmfile)", d.Name, d.Chart.Path, h.Chart.Path)
				}
				if !reflect.DeepEqual(d.MergedValues(), h.MergedValues()) {
					t.Errorf("%s: values differ:\ndigit:    %v\nhelmfile: %v", d.Name, d.MergedValues(), h.MergedValues())
				}
				if !sameSet(d.Needs, h.Needs) {
					t.Errorf("%s: needs %v (digit) and %v (helmfile)", d.Name, d.Needs, h.Needs)
				}
				s, _ := repo.Service(d.Name)
				img, _ := d.MergedValues()["image"].(map[string]any)
				if img["tag"] != s.Tag {
					t.Errorf("%s: image.tag %v, want %q", d.Name, img["tag"], s.Tag)
				}
				// Every release gets the whole file: the edited section is in
				// all of them.
				for name, want := range tt.opts.Replicas {
					sec, _ := d.MergedValues()[name].(map[string]any)
					if got := fmt.Sprint(sec["replicas"]); got != fmt.Sprint(want) {
						t.Errorf("%s: %s.replicas %s, want %d", d.Name, name, got, want)
					}
				}
			}
		})
	}
}

// TestGenerate_deterministic checks that the same options write the same bytes.
func TestGenerate_deterministic(t *testing.T) {
	ctx := context.Background()
	a, b := t.TempDir(), t.TempDir()
	for _, d := range []string{a, b} {
		if _, err := gen.Generate(ctx, gen.Options{Dir: d, Services: 45}); err != nil {
			t.Fatal(err)
		}
	}
	err := filepath.WalkDir(a, func(p string, de os.DirEntry, err error) error {
		if err != nil || de.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(a, p)
		x, _ := os.ReadFile(p)
		y, err := os.ReadFile(filepath.Join(b, rel))
		if err != nil || string(x) != string(y) {
			t.Errorf("%s differs between two runs", rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestLayout_badOptions checks the errors of bad options.
func TestLayout_badOptions(t *testing.T) {
	tests := []struct {
		name string
		// opts are the bad options.
		opts gen.Options
	}{
		{name: "negative count", opts: gen.Options{Services: -1}},
		{name: "unknown service", opts: gen.Options{Services: 3, Tags: map[string]string{"nope": "v1"}}},
		{name: "bad tag", opts: gen.Options{Services: 3, Tags: map[string]string{"egov-user": "v1 2"}}},
		{name: "replicas of an unknown service", opts: gen.Options{Services: 3, Replicas: map[string]int{"nope": 2}}},
		{name: "negative replicas", opts: gen.Options{Services: 3, Replicas: map[string]int{"egov-user": -1}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := gen.Layout(tt.opts); err == nil {
				t.Fatal("no error")
			}
		})
	}
}

func loadEnv(t *testing.T, dir, name string) *manifest.Environment {
	t.Helper()
	env, err := loader.Environment(context.Background(), loader.Options{RepoDir: dir}, name)
	if err != nil {
		t.Fatalf("unable to load environment %q: %v", name, err)
	}
	return env
}

func sameSet(a, b []string) bool {
	m := map[string]int{}
	for _, x := range a {
		m[x]++
	}
	for _, x := range b {
		m[x]--
	}
	for _, v := range m {
		if v != 0 {
			return false
		}
	}
	return true
}
