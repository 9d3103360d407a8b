package helmfile

import (
	"context"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/digitops/digitops/internal/fsutil"
	"github.com/digitops/digitops/source/manifest"
)

// chartFiles is a minimal chart at charts/app.
var chartFiles = map[string]string{
	"charts/app/Chart.yaml": "apiVersion: v2\nname: app\nversion: 0.1.0\n",
}

// writeRepo writes files (path -> content) into a new repository with a
// digitops.yaml whose environment "test" reads helmfile.yaml.
func writeRepo(t *testing.T, files map[string]string, extraEnv string) string {
	t.Helper()
	repo := t.TempDir()
	all := map[string]string{
		"digitops.yaml": "environments:\n  - name: test\n    layout: helmfile\n    helmfile: helmfile.yaml\n" + extraEnv,
	}
	for k, v := range chartFiles {
		all[k] = v
	}
	for k, v := range files {
		all[k] = v
	}
	if err := fsutil.WriteFiles(repo, all); err != nil {
		t.Fatal(err)
	}
	return repo
}

func TestReleases_badInputs(t *testing.T) {
	tests := []struct {
		name string
		// files are the repository's files besides digitops.yaml and
		// charts/app; helmfile.yaml is the root helmfile.
		files map[string]string
		// env is appended to the environment entry of digitops.yaml.
		env string
		// want are substrings the error must contain.
		want []string
	}{
		{
			name:  "unsupported release hooks",
			files: map[string]string{"helmfile.yaml": "releases:\n  - name: a\n    chart: ./charts/app\n    hooks:\n      - events: [presync]\n"},
			want:  []string{`helmfile.yaml:4: release "a": unsupported helmfile feature: hooks run commands`},
		},
		{
			name:  "helmfile nested too deep",
			files: map[string]string{"helmfile.yaml": "releases:\n  - name: a\n    chart: ./charts/app\n    labels: " + strings.Repeat("{a: ", 30000) + "\n"},
			want:  []string{"helmfile.yaml:4: YAML nested deeper than 1000 levels"},
		},
		{
			name:  "helmfile nested too deep after templating",
			files: map[string]string{"helmfile.yaml": "{{ $x := 1 }}\nreleases:\n  - name: a\n    chart: ./charts/app\n    labels: " + strings.Repeat("{{ \"[\" }}", 1001) + "\n"},
			want:  []string{"helmfile.yaml:5: YAML nested deeper than 1000 levels"},
		},
		{
			name:  "values file nested too deep",
			files: map[string]string{"helmfile.yaml": "releases:\n  - name: a\n    chart: ./charts/app\n    values: [values.yaml]\n", "values.yaml": "a: 1\nb: " + strings.Repeat("[", 30000) + strings.Repeat("]", 30000) + "\n"},
			want:  []string{`values.yaml:2: release "a": YAML nested deeper than 1000 levels`},
		},
		{
			name:  "fromYaml nested too deep",
			files: map[string]string{"helmfile.yaml": "releases:\n  - name: a\n    chart: ./charts/app\n    labels: {x: {{ fromYaml (readFile \"deep.yaml\") | len }}}\n", "deep.yaml": "a: " + strings.Repeat("[", 2000) + "\n"},
			want:  []string{"helmfile.yaml:4", "fromYaml: line 1: YAML nested deeper than 1000 levels"},
		},
		{
			name:  "unsupported kustomize patches",
			files: map[string]string{"helmfile.yaml": "releases:\n  - name: a\n    chart: ./charts/app\n    strategicMergePatches: []\n"},
			want:  []string{`helmfile.yaml:4: release "a": unsupported helmfile feature: strategicMergePatches`},
		},
		{
			name:  "unsupported kubeContext",
			files: map[string]string{"helmfile.yaml": "releases:\n  - name: a\n    chart: ./charts/app\n    kubeContext: other\n"},
			want:  []string{`unsupported helmfile feature: kubeContext is not supported`},
		},
		{
			name:  "unsupported bases",
			files: map[string]string{"helmfile.yaml": "bases:\n  - common.yaml\nreleases: []\n"},
			want:  []string{`helmfile.yaml:1: unsupported helmfile feature: bases are not supported`},
		},
		{
			name:  "exec in a template",
			files: map[string]string{"helmfile.yaml": "releases:\n  - name: a\n    chart: ./charts/app\n    version: {{ exec \"git\" (list \"describe\") }}\n"},
			want:  []string{`helmfile.yaml:4: template: error calling exec: the template function exec is not supported by digitops`},
		},
		{
			name:  "helmDefaults kubeContext",
			files: map[string]string{"helmfile.yaml": "helmDefaults:\n  kubeContext: x\nreleases: []\n"},
			want:  []string{`helmfile.yaml:2: unsupported helmfile feature: helmDefaults.kubeContext`},
		},
		{
			name:  "unknown top-level key",
			files: map[string]string{"helmfile.yaml": "relases: []\n"},
			want:  []string{`helmfile.yaml:1: unknown helmfile key "relases"`},
		},
		{
			name:  "unknown release key",
			files: map[string]string{"helmfile.yaml": "releases:\n  - name: a\n    chart: ./charts/app\n    valeus: []\n"},
			want:  []string{`helmfile.yaml:4: release "a": unknown release key "valeus"`},
		},
		{
			name:  "missing values file, missingFileHandler Error",
			files: map[string]string{"helmfile.yaml": "releases:\n  - name: a\n    chart: ./charts/app\n    missingFileHandler: Error\n    values:\n      - values/a.yaml\n"},
			want:  []string{`helmfile.yaml:6: release "a": values file "values/a.yaml" does not exist (looked for values/a.yaml); set missingFileHandler: Warn to skip it`},
		},
		{
			name:  "bad missingFileHandler",
			files: map[string]string{"helmfile.yaml": "releases:\n  - name: a\n    chart: ./charts/app\n    missingFileHandler: Ignore\n"},
			want:  []string{`missingFileHandler: want Error, Warn, Info or Debug, got "Ignore"`},
		},
		{
			name:  "needs an unknown release",
			files: map[string]string{"helmfile.yaml": "releases:\n  - name: a\n    chart: ./charts/app\n    needs: [nope]\n"},
			want:  []string{`helmfile.yaml:4: release "a": needs "nope", which is not a release of any helmfile of this environment`},
		},
		{
			name:  "needs in another namespace",
			files: map[string]string{"helmfile.yaml": "releases:\n  - name: a\n    chart: ./charts/app\n    needs: [other/b]\n  - name: b\n    namespace: egov\n    chart: ./charts/app\n"},
			want:  []string{`needs "other/b", but release "b" is in namespace "egov"`},
		},
		{
			name:  "needs cycle",
			files: map[string]string{"helmfile.yaml": "releases:\n  - name: a\n    chart: ./charts/app\n    needs: [b]\n  - name: b\n    chart: ./charts/app\n    needs: [a]\n"},
			want:  []string{`needs cycle: a -> b -> a`},
		},
		{
			name:  "template error with its line",
			files: map[string]string{"helmfile.yaml": "releases:\n  - name: a\n    chart: ./charts/app\n    values:\n      - x: {{ .Values.missing }}\n"},
			want:  []string{`helmfile.yaml:5: template: map has no entry for key "missing"`},
		},
		{
			name:  "template syntax error with its line",
			files: map[string]string{"helmfile.yaml": "releases:\n  - name: a\n\n    chart: {{ .Values.x \n"},
			want:  []string{`helmfile.yaml:5: template: unclosed action started at line 4`},
		},
		{
			name:  "required",
			files: map[string]string{"helmfile.yaml": "values:\n  - db: {password: \"\"}\nreleases:\n  - name: a\n    chart: ./charts/app\n    values:\n      - pw: {{ .Values.db.password | required \"db.password is required\" }}\n"},
			want:  []string{`helmfile.yaml:7: template: error calling required: db.password is required`},
		},
		{
			name:  "release template error",
			files: map[string]string{"helmfile.yaml": "releases:\n  - name: a\n    chart: ./charts/{{`{{ .Release.Nme }}`}}\n"},
			want:  []string{`release "a": chart: template: can't evaluate field Nme`},
		},
		{
			name:  "invalid YAML after templating",
			files: map[string]string{"helmfile.yaml": "releases:\n  - name: a\n   chart: x\n"},
			want:  []string{`helmfile.yaml:1: invalid YAML (after templating): did not find expected '-' indicator`},
		},
		{
			name:  "missing sub-helmfile",
			files: map[string]string{"helmfile.yaml": "helmfiles:\n  - path: sub/helmfile.yaml\n"},
			want:  []string{`helmfile.yaml:2: helmfiles: "sub/helmfile.yaml" does not exist`},
		},
		{
			name:  "helmfiles cycle",
			files: map[string]string{"helmfile.yaml": "helmfiles:\n  - sub.yaml\n", "sub.yaml": "helmfiles:\n  - helmfile.yaml\n"},
			want:  []string{`helmfiles: cycle: helmfile.yaml -> sub.yaml -> helmfile.yaml`},
		},
		{
			name:  "chart neither local nor of a repository",
			files: map[string]string{"helmfile.yaml": "releases:\n  - name: a\n    chart: stable/app\n"},
			want:  []string{`release "a": chart "stable/app" does not exist: no stable/app/Chart.yaml in the repository (it is neither a chart directory nor <repository>/<chart> of a repository in repositories:)`},
		},
		{
			name:  "chart leaves the repository",
			files: map[string]string{"helmfile.yaml": "releases:\n  - name: a\n    chart: ../../app\n"},
			want:  []string{`release "a": chart: path "../../app" leaves the repository`},
		},
		{
			name:  "readFile outside the repository",
			files: map[string]string{"helmfile.yaml": "values:\n  - x: {{ readFile \"/etc/passwd\" | quote }}\n"},
			want:  []string{`helmfile.yaml:2: template: error calling readFile: readFile: "/etc/passwd" is outside the repository`},
		},
		{
			name:  "repository credentials",
			files: map[string]string{"helmfile.yaml": "repositories:\n  - name: r\n    url: https://charts.example.org\n    username: u\n"},
			want:  []string{`helmfile.yaml:4: unsupported helmfile feature: repository username is not supported`},
		},
		{
			name:  "undefined environment",
			files: map[string]string{"helmfile.yaml": "environments:\n  default: {}\nreleases: []\n"},
			env:   "    helmfileEnvironment: prod\n",
			want:  []string{`helmfile.yaml: environment "prod" is not defined in environments:`},
		},
		{
			name:  "helmfile lock file",
			files: map[string]string{"helmfile.yaml": "releases: []\n", "helmfile.lock": "version: v0.150.0\n"},
			want:  []string{`helmfile.yaml: unsupported helmfile feature: the lock file helmfile.lock pins chart versions`},
		},
		{
			name:  "bad selector",
			files: map[string]string{"helmfile.yaml": "releases: []\n"},
			env:   "    selector: [tier]\n",
			want:  []string{`selector "tier": term "tier" is not key=value or key!=value`},
		},
		{
			name:  "SOPS secrets without a decrypter",
			files: map[string]string{"helmfile.yaml": "environments:\n  default:\n    secrets: [s.yaml]\n", "s.yaml": "a: ENC[AES256_GCM,data:x]\nsops:\n  version: 3.9.0\n"},
			want:  []string{`s.yaml: the file is SOPS-encrypted and no SOPS decrypter is configured`},
		},
		{
			name:  "duplicate release across helmfiles",
			files: map[string]string{"helmfile.yaml": "helmfiles: [sub.yaml]\nreleases:\n  - name: a\n    chart: ./charts/app\n", "sub.yaml": "releases:\n  - name: a\n    chart: ./charts/app\n"},
			want:  []string{`release "a": duplicate release name`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			repo := writeRepo(t, tt.files, tt.env)
			rels, err := loadEnv(t, repo, "test", nil)
			if err == nil {
				t.Fatalf("no error; releases: %+v", rels)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error\n  %v\ndoes not contain\n  %s", err, w)
				}
			}
		})
	}
}

// envLines is an environment values file of several lines, which
// {{ .Values | toYaml | nindent 8 }} turns into as many lines of output
// where the helmfile has one.
const envLines = "a: 1\nb: 2\nc: 3\nd: 4\ne: 5\n"

// secondDoc is a helmfile whose second document (from line 6) starts with a
// release whose values expand to several lines (line 10).
const secondDoc = "environments:\n  default:\n    values:\n      - env.yaml\n---\n" +
	"releases:\n  - name: a\n    chart: ./charts/app\n    values:\n      - {{ .Values | toYaml | nindent 8 }}\n"

// TestReleases_errorLines checks that errors name the file the user wrote
// and a line of that file, whatever templates expanded above the fault.
func TestReleases_errorLines(t *testing.T) {
	tests := []struct {
		name string
		// files are the repository's files besides digitops.yaml and
		// charts/app; helmfile.yaml is the root helmfile.
		files map[string]string
		// want is the whole error.
		want string
	}{
		{
			name: "release field error in the second document",
			files: map[string]string{"env.yaml": envLines, "helmfile.yaml": secondDoc +
				"  - name: b\n    chart: ./charts/app\n    valeus: []\n"},
			want: `helmfile.yaml:13: release "b": unknown release key "valeus"`,
		},
		{
			name: "template error in the second document",
			files: map[string]string{"env.yaml": envLines, "helmfile.yaml": secondDoc +
				"  - name: b\n    chart: ./charts/app\n    version: {{ .Values.nope }}\n"},
			want: `helmfile.yaml:13: template: map has no entry for key "nope"`,
		},
		{
			name: "release template error in a field of the second document",
			files: map[string]string{"env.yaml": envLines, "helmfile.yaml": secondDoc +
				"  - name: b\n\n    chart: ./charts/{{`{{ .Release.Nme }}`}}\n"},
			want: `helmfile.yaml:13: release "b": chart: template: can't evaluate field Nme in type helmfile.releaseInfo`,
		},
		{
			name: "release template error in a field from a template",
			files: map[string]string{"env.yaml": envLines, "helmfile.yaml": "environments:\n  default:\n    values:\n      - env.yaml\n---\n" +
				"templates:\n  t: &t\n    chart: ./charts/app\n    version: '{{`{{ .Release.Nme }}`}}'\n" +
				"releases:\n  - name: a\n    values:\n      - {{ .Values | toYaml | nindent 8 }}\n    <<: *t\n"},
			want: `helmfile.yaml:9: release "a": version: template: can't evaluate field Nme in type helmfile.releaseInfo`,
		},
		{
			name: "invalid YAML in the second document",
			files: map[string]string{"env.yaml": envLines, "helmfile.yaml": secondDoc +
				"  - name: b\n    chart: ./charts/app: x\n"},
			want: `helmfile.yaml:12: invalid YAML (after templating): mapping values are not allowed in this context`,
		},
		{
			name: "needs an unknown release, below an expansion",
			files: map[string]string{"env.yaml": envLines, "helmfile.yaml": secondDoc +
				"    needs:\n      - nope\n"},
			want: `helmfile.yaml:12: release "a": needs "nope", which is not a release of any helmfile of this environment`,
		},
		{
			name: "template error in a .gotmpl values file",
			files: map[string]string{
				"helmfile.yaml": "releases:\n  - name: a\n    chart: ./charts/app\n    values:\n      - v.yaml.gotmpl\n",
				"v.yaml.gotmpl": "x: 1\n\ny: {{ .Values.nope }}\n",
			},
			want: `v.yaml.gotmpl:3: template: map has no entry for key "nope"`,
		},
		{
			name: "invalid YAML in a .gotmpl values file, below an expansion",
			files: map[string]string{
				"helmfile.yaml": "releases:\n  - name: a\n    chart: ./charts/app\n    values:\n      - v.yaml.gotmpl\n",
				"v.yaml.gotmpl": "x:\n{{ list 1 2 3 4 | toYaml | indent 2 }}\ny: [\n",
			},
			want: `v.yaml.gotmpl:3: invalid YAML (after templating): did not find expected node content`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			repo := writeRepo(t, tt.files, "")
			rels, err := loadEnv(t, repo, "test", nil)
			if err == nil {
				t.Fatalf("no error; releases: %+v", rels)
			}
			if err.Error() != tt.want {
				t.Errorf("error\n  %v\nwant\n  %s", err, tt.want)
			}
		})
	}
}

// TestTemplates_readOnlyAllowedVariables: env, expandenv and requiredEnv
// read only the variables the operator allows (none by default), never
// digitops's own credentials or the keys the decrypter uses.
func TestTemplates_readOnlyAllowedVariables(t *testing.T) {
	for k, v := range map[string]string{
		"DIGITOPS_GIT_PASSWORD": "git-password-value",
		"SOPS_AGE_KEY":          "AGE-SECRET-KEY-value",
		"AWS_SECRET_ACCESS_KEY": "aws-secret-value",
		"GITHUB_TOKEN":          "github-token-value",
		"KUBECONFIG_DATA":       "kubeconfig-value",
		"DEPLOY_REGION":         "ap-south-1",
		"CI_ENVIRONMENT_NAME":   "qa",
	} {
		t.Setenv(k, v)
	}
	const read = `releases:
  - name: a
    chart: ./charts/app
    values:
      - git: {{ env "DIGITOPS_GIT_PASSWORD" | quote }}
        sops: {{ env "SOPS_AGE_KEY" | quote }}
        aws: {{ expandenv "$AWS_SECRET_ACCESS_KEY" | quote }}
        github: {{ env "GITHUB_TOKEN" | quote }}
        kubeconfig: {{ expandenv "${KUBECONFIG_DATA}" | quote }}
        region: {{ env "DEPLOY_REGION" | quote }}
        ci: {{ env "CI_ENVIRONMENT_NAME" | quote }}
`
	required := func(name string) string {
		return "releases:\n  - name: a\n    chart: ./charts/app\n    values:\n      - x: {{ requiredEnv \"" + name + "\" }}\n"
	}
	tests := []struct {
		name     string            // case
		helmfile string            // helmfile.yaml
		allow    []string          // the operator's allowlist
		want     map[string]string // values of release a (nil: an error)
		wantErr  string            // a part of the error
	}{
		{
			name:     "nothing allowed by default",
			helmfile: read,
			want:     map[string]string{"git": "", "sops": "", "aws": "", "github": "", "kubeconfig": "", "region": "", "ci": ""},
		},
		{
			name:     "names and patterns",
			helmfile: read,
			allow:    []string{"DEPLOY_REGION", "CI_*"},
			want:     map[string]string{"git": "", "sops": "", "aws": "", "github": "", "kubeconfig": "", "region": "ap-south-1", "ci": "qa"},
		},
		{
			name:     "digitops's credentials even under *",
			helmfile: read,
			allow:    []string{"*"},
			want:     map[string]string{"git": "", "sops": "", "aws": "", "github": "github-token-value", "kubeconfig": "kubeconfig-value", "region": "ap-south-1", "ci": "qa"},
		},
		{
			name:     "requiredEnv of a variable not allowed",
			helmfile: required("GITHUB_TOKEN"),
			allow:    []string{"DEPLOY_REGION"},
			wantErr:  "helmfile.yaml:5: template: error calling requiredEnv: GITHUB_TOKEN is not a variable templates may read: the operator allows them by name with --helmfile-env",
		},
		{
			name:     "requiredEnv of an allowed variable",
			helmfile: required("DEPLOY_REGION"),
			allow:    []string{"DEPLOY_REGION"},
			want:     map[string]string{"x": "ap-south-1"},
		},
		{
			name:     "requiredEnv of digitops's credential",
			helmfile: required("DIGITOPS_API_TOKEN"),
			allow:    []string{"*"},
			wantErr:  "DIGITOPS_API_TOKEN is a credential of digitops itself",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			repo := writeRepo(t, map[string]string{"helmfile.yaml": tt.helmfile}, "")
			cfg, err := manifest.ReadConfig(filepath.Join(repo, manifest.ConfigFileName))
			if err != nil {
				t.Fatal(err)
			}
			rels, err := Layout{Logger: quietLogger()}.Releases(context.Background(), manifest.LayoutInput{
				RepoDir: repo, ConfigFile: manifest.ConfigFileName, Env: cfg.Environments[0], AllowEnv: tt.allow,
			})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]string{}
			for k, v := range rels[0].Values {
				got[k] = fmt.Sprint(v)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("values = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestCheckAllowEnv(t *testing.T) {
	tests := []struct {
		allow []string // the allowlist
		ok    bool     // whether it is accepted
	}{
		{[]string{"CI_*", "DEPLOY_REGION", "TF_VAR_?"}, true},
		{nil, true},
		{[]string{""}, false},
		{[]string{"A=B"}, false},
		{[]string{"CI_["}, false},
	}
	for _, tt := range tests {
		if err := CheckAllowEnv(tt.allow); (err == nil) != tt.ok {
			t.Errorf("CheckAllowEnv(%q) = %v, want ok %v", tt.allow, err, tt.ok)
		}
	}
}
