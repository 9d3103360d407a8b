package helmfile

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"

	"github.com/digitops/digitops/source/manifest"
)

// corpusDir returns the test-jenkins-helmfile branch of the DIGIT-DevOps
// corpus (/work/shared/digit-devops-corpus, beside the checkout), or skips
// the test.
func corpusDir(t *testing.T) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	// source/manifest/helmfile -> the repository root -> its parent.
	dir := filepath.Join(filepath.Dir(file), "..", "..", "..", "..", "shared", "digit-devops-corpus", "test-jenkins-helmfile")
	abs, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(abs, "deploy-as-code", "digit-helmfile.yaml")); err != nil {
		t.Skipf("skipping: the DIGIT-DevOps corpus is not at %s", abs)
	}
	return abs
}

// placeholderSecrets reads SOPS files without keys: each encrypted value
// becomes a placeholder, as `digitops plan --secrets placeholder` would.
type placeholderSecrets struct{}

func (placeholderSecrets) DecryptValues(_ context.Context, path, name string, _ manifest.SecretsMode) (map[string]any, []string, error) {
	v, err := manifest.ReadValuesFile(context.Background(), nil, path, name)
	if err != nil {
		return nil, nil, err
	}
	delete(v, "sops")
	var secrets []string
	var walk func(any) any
	walk = func(x any) any {
		switch x := x.(type) {
		case map[string]any:
			for k, e := range x {
				x[k] = walk(e)
			}
		case []any:
			for i, e := range x {
				x[i] = walk(e)
			}
		case string:
			if strings.HasPrefix(x, "ENC[") {
				secrets = append(secrets, "placeholder-"+x[len(x)-12:])
				return secrets[len(secrets)-1]
			}
		}
		return x
	}
	walk(v)
	return v, secrets, nil
}

// TestCorpus_testJenkinsHelmfile loads DIGIT-DevOps's helmfile deployment,
// as it is, in both of its environments.
func TestCorpus_testJenkinsHelmfile(t *testing.T) {
	repo := corpusDir(t)
	tests := []struct {
		// env is the helmfile environment.
		env string
		// domain is its global.domain.
		domain string
	}{
		{env: "aws-helmfile", domain: "test-aws-helmfile"},
		{env: "gcp-helmfile", domain: "test-gcp-helmfile"},
	}
	for _, tt := range tests {
		t.Run(tt.env, func(t *testing.T) {
			rels, err := Layout{Logger: quietLogger()}.Releases(context.Background(), manifest.LayoutInput{
				RepoDir:    repo,
				ConfigFile: "digitops.yaml",
				Env: manifest.EnvironmentConfig{Name: tt.env, Layout: manifest.LayoutHelmfile,
					Helmfile: "deploy-as-code/digit-helmfile.yaml", HelmfileEnvironment: tt.env},
				Secrets:   manifest.SecretsPlaceholder,
				Decrypter: placeholderSecrets{},
			})
			if err != nil {
				t.Fatal(err)
			}
			// 5 backbone (minio and postgresql are installed: false), 23
			// core, 26 urban, 7 common, 3 analytics, 10 sanitation and 3
			// auxiliary releases.
			if len(rels) != 77 {
				t.Errorf("%d releases, want 77", len(rels))
			}
			byName := map[string]manifest.ReleaseSpec{}
			for _, r := range rels {
				byName[r.Name] = r
			}
			for _, w := range []struct {
				name, namespace, source string
				needs                   []string
			}{
				{"redis", "backbone", "backbone-services/backboneservices-helmfile.yaml", nil},
				{"egov-user", "egov", "core-services/coreservices-helmfile.yaml", []string{"egov-enc-service"}},
				{"egov-enc-service", "egov", "core-services/coreservices-helmfile.yaml", []string{"egov-mdms-service"}},
				{"pgr-services", "test", "urban/urban-helmfile.yaml", nil},
				{"egov-finance", "test", "urban/urban-helmfile.yaml", nil},
				{"playground", "backbone", "auxiliary-services/auxiliary-helmfile.yaml", nil},
			} {
				r, ok := byName[w.name]
				switch {
				case !ok:
					t.Errorf("no release %s", w.name)
				case r.Namespace != w.namespace || r.Source != "deploy-as-code/charts/"+w.source || !reflect.DeepEqual(r.Needs, w.needs):
					t.Errorf("%s: namespace %q, source %q, needs %v; want %q, %q, %v", w.name, r.Namespace, r.Source, r.Needs, w.namespace, w.source, w.needs)
				case r.Chart.Path != filepath.Join(repo, "deploy-as-code/charts", filepath.Dir(w.source), w.name):
					t.Errorf("%s: chart %q", w.name, r.Chart.Path)
				}
			}
			for _, absent := range []string{"minio", "postgresql"} {
				if _, ok := byName[absent]; ok {
					t.Errorf("%s is installed: false, yet loaded", absent)
				}
			}
			if got, _ := get("global.domain", byName["egov-user"].Values); got != tt.domain {
				t.Errorf("egov-user: global.domain %v, want %s", got, tt.domain)
			}
			// The chart renders this template itself (tpl): helmfile passes
			// it on as written.
			want := `egov.collection.version={{ index .Values "collection-version" }}`
			if got, _ := byName["egov-finance"].Values["microservice"].(string); !strings.HasPrefix(got, want+"\n") {
				t.Errorf("egov-finance: microservice starts %q, want %q", strings.SplitN(got, "\n", 2)[0], want)
			}
		})
	}
}
