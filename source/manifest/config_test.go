package manifest

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseConfig(t *testing.T) {
	tests := []struct {
		name    string // case
		yaml    string // digitops.yaml content
		wantErr string // substring of the error; empty for success
		check   func(t *testing.T, c *Config)
	}{
		{
			name:    "nested too deep",
			yaml:    "environments:\n  - name: dev\n    releases:\n      - {name: a, chart: charts/a, values: " + strings.Repeat("{a: ", 20000) + "}\n",
			wantErr: "f.yaml:4: YAML nested deeper than 1000 levels",
		},
		{
			name: "native with policy",
			yaml: "environments:\n  - name: dev\n    sync: {interval: 2m, prune: true, drift: warn, concurrency: 8, timeout: 30s}\n    releases:\n      - {name: a, chart: charts/a}\n",
			check: func(t *testing.T, c *Config) {
				e := c.Environments[0]
				p := e.Policy()
				if p.Interval != 2*time.Minute || !p.Prune || p.Drift != DriftWarn || p.Concurrency != 8 || p.Timeout != 30*time.Second {
					t.Errorf("policy = %+v", p)
				}
				if e.EffectiveLayout() != LayoutNative || e.Line != 2 || e.Releases[0].Line != 5 {
					t.Errorf("layout %q line %d release line %d", e.EffectiveLayout(), e.Line, e.Releases[0].Line)
				}
			},
		},
		{
			name: "defaults",
			yaml: "environments:\n  - name: dev\n",
			check: func(t *testing.T, c *Config) {
				if got, want := c.Environments[0].Policy(), DefaultSyncPolicy(); !reflect.DeepEqual(got, want) {
					t.Errorf("policy = %+v, want %+v", got, want)
				}
			},
		},
		{name: "empty file", yaml: "", wantErr: "empty configuration"},
		{name: "no environments", yaml: "environments: []\n", wantErr: "no environments"},
		{name: "unknown top-level key", yaml: "environment:\n  - name: dev\n", wantErr: "f.yaml:1: invalid YAML: field environment not found"},
		{name: "unknown environment key", yaml: "environments:\n  - name: dev\n    chart: x\n", wantErr: "f.yaml:3:"},
		{name: "syntax error", yaml: "environments:\n  - name: [dev\n", wantErr: "f.yaml:"},
		{name: "duplicate environment", yaml: "environments:\n  - name: dev\n  - name: dev\n", wantErr: `f.yaml:3: environment "dev" is declared twice (first on line 2)`},
		{name: "unknown layout", yaml: "environments:\n  - name: dev\n    layout: kustomize\n", wantErr: `unknown layout "kustomize"`},
		{name: "unknown drift mode", yaml: "environments:\n  - name: dev\n    sync: {drift: fix}\n", wantErr: `unknown drift mode "fix"`},
		{name: "notify: unknown provider", yaml: "environments:\n  - name: dev\n    notify: [{provider: teams}]\n", wantErr: `notify[0]: unknown provider "teams"`},
		{name: "notify: a secret path", yaml: "environments:\n  - name: dev\n    notify: [{provider: slack, secretRef: ../../var/run/secrets/token}]\n", wantErr: `secretRef "../../var/run/secrets/token" is not a file name`},
		{name: "notify: credentials in the url", yaml: "environments:\n  - name: dev\n    notify: [{provider: webhook, url: \"https://u:p@example.org/\"}]\n", wantErr: "url must be an http(s) URL without credentials"},
		{name: "notify: github without repository", yaml: "environments:\n  - name: dev\n    notify: [{provider: github, secretRef: gh}]\n", wantErr: "provider github needs secretRef (the token's file) and repository"},
		{name: "notify: a token sent to a url from the repository", yaml: "environments:\n  - name: dev\n    notify: [{provider: github, secretRef: gh, repository: o/r, url: \"https://evil.example.org\"}]\n", wantErr: "url is not allowed for provider github"},
		{name: "notify: a repository that climbs the API path", yaml: "environments:\n  - name: dev\n    notify: [{provider: github, secretRef: gh, repository: ../../user}]\n", wantErr: `repository "../../user" is not a github repository`},
		{name: "notify: a nested github repository", yaml: "environments:\n  - name: dev\n    notify: [{provider: github, secretRef: gh, repository: a/b/c}]\n", wantErr: `repository "a/b/c" is not a github repository`},
		{name: "notify: a gitlab project with a query", yaml: "environments:\n  - name: dev\n    notify: [{provider: gitlab, secretRef: gl, repository: \"g/p?x=1\"}]\n", wantErr: `is not a gitlab repository`},
		{name: "rollout: a pattern that matches nothing", yaml: "rollouts:\n  - name: egov\n    waves:\n      - environments: [dev]\n      - environments: [staging-*]\nenvironments:\n  - name: dev\n  - name: qa\n  - name: prod-a\n", wantErr: `rollout "egov" wave 2: "staging-*" matches no environment`},
		{name: "rollout: an environment in two waves", yaml: "rollouts:\n  - name: egov\n    waves:\n      - environments: [dev]\n      - environments: [dev, qa]\nenvironments:\n  - name: dev\n  - name: qa\n  - name: prod-a\n", wantErr: `environment "dev" is already in rollout "egov" wave 1`},
		{name: "rollout: one wave", yaml: "rollouts:\n  - name: egov\n    waves:\n      - environments: [dev]\nenvironments:\n  - name: dev\n  - name: qa\n  - name: prod-a\n", wantErr: "needs at least two waves"},
		{name: "rollout: a gate with credentials", yaml: "rollouts:\n  - name: egov\n    waves:\n      - environments: [dev]\n        prometheus: {url: \"http://u:p@prom\", query: up}\n      - environments: [prod-*]\nenvironments:\n  - name: dev\n  - name: qa\n  - name: prod-a\n", wantErr: "prometheus.url must be an http(s) URL without credentials"},
		{name: "notify: unknown event", yaml: "environments:\n  - name: dev\n    notify: [{provider: webhook, url: \"https://example.org/\", events: [deploy]}]\n", wantErr: `unknown event "deploy"`},
		{name: "bad duration", yaml: "environments:\n  - name: dev\n    sync: {interval: soon}\n", wantErr: "f.yaml:3:"},
		{name: "negative concurrency", yaml: "environments:\n  - name: dev\n    sync: {concurrency: -3}\n", wantErr: `f.yaml:2: environment "dev": sync.concurrency: -3 is negative`},
		{name: "negative timeout", yaml: "environments:\n  - name: dev\n    sync: {timeout: -5s}\n", wantErr: "sync.timeout: -5s is negative"},
		{name: "negative interval", yaml: "environments:\n  - name: dev\n    sync: {interval: -1m}\n", wantErr: "sync.interval: -1m0s is negative"},
		{name: "prune percent over 100", yaml: "environments:\n  - name: dev\n    sync: {maxPrunePercent: 500}\n", wantErr: "sync.maxPrunePercent: 500 is not a percentage"},
		{name: "negative retries", yaml: "environments:\n  - name: dev\n    sync: {remediation: {retries: -1}}\n", wantErr: "sync.remediation.retries: -1 is negative"},
		{name: "environment name that climbs", yaml: "environments:\n  - name: dev\n  - name: ../../etc\n", wantErr: `f.yaml:3: environment name "../../etc" is not valid`},
		{name: "environment name with HTML", yaml: "environments:\n  - name: \"<img src=x>\"\n", wantErr: `f.yaml:2: environment name "<img src=x>" is not valid`},
		{name: "environment name over 63 characters", yaml: "environments:\n  - name: " + strings.Repeat("e", 70) + "\n", wantErr: "f.yaml:2: environment name"},
		{name: "environment name with capitals", yaml: "environments:\n  - name: Unified-Dev\n", wantErr: `environment name "Unified-Dev" is not valid: want at most 63 lowercase letters`},
		{name: "environment name with an underscore", yaml: "environments:\n  - name: unified_dev\n", wantErr: "is not valid"},
		{name: "environment name ending with -", yaml: "environments:\n  - name: dev-\n", wantErr: "is not valid"},
		{name: "DIGIT environment names", yaml: "environments:\n  - name: unified-dev\n  - name: ci-demo\n  - name: unified-health-uat\n  - name: " + strings.Repeat("e", 63) + "\n", check: func(t *testing.T, c *Config) {
			if n := len(c.Environments); n != 4 {
				t.Errorf("%d environments, want 4", n)
			}
		}},
		{name: "second document", yaml: "environments:\n  - name: dev\n---\nenvironments:\n  - name: prod\n", wantErr: "f.yaml:3: a second YAML document"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ParseConfig("f.yaml", []byte(tt.yaml))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			tt.check(t, c)
		})
	}
}

func TestValidate_order(t *testing.T) {
	rel := func(name string, needs ...string) ReleaseSpec { return ReleaseSpec{Name: name, Needs: needs} }
	tests := []struct {
		name     string        // case
		releases []ReleaseSpec // declared releases
		want     string        // order, or the error substring
		wantErr  bool          // whether an error is expected
	}{
		{name: "declared order kept", releases: []ReleaseSpec{rel("a"), rel("b"), rel("c")}, want: "a b c"},
		{name: "needs first", releases: []ReleaseSpec{rel("c", "b"), rel("b", "a"), rel("a")}, want: "a b c"},
		{name: "diamond", releases: []ReleaseSpec{rel("d", "b", "c"), rel("c", "a"), rel("b", "a"), rel("a")}, want: "a c b d"},
		{name: "cycle printed", releases: []ReleaseSpec{rel("a", "b"), rel("b", "c"), rel("c", "a")}, want: "needs cycle: a -> b -> c -> a", wantErr: true},
		{name: "self need", releases: []ReleaseSpec{rel("a", "a")}, want: "needs cycle: a -> a", wantErr: true},
		{name: "unknown need", releases: []ReleaseSpec{rel("a", "zz")}, want: `release "a": needs "zz"`, wantErr: true},
		{name: "duplicate", releases: []ReleaseSpec{rel("a"), rel("a")}, want: `release "a": duplicate release name`, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Validate("f.yaml", tt.releases)
			if tt.wantErr {
				if err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("error = %v, want %q", err, tt.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			names := make([]string, len(got))
			for i, r := range got {
				names[i] = r.Name
			}
			if s := strings.Join(names, " "); s != tt.want {
				t.Errorf("order = %q, want %q", s, tt.want)
			}
		})
	}
}

func TestMergeValues(t *testing.T) {
	dst := map[string]any{"a": map[string]any{"x": 1, "y": 2}, "b": []any{1}, "c": "keep"}
	src := map[string]any{"a": map[string]any{"y": 3, "z": nil}, "b": []any{2}}
	got := MergeValues(dst, src)
	a := got["a"].(map[string]any)
	if a["x"] != 1 || a["y"] != 3 || len(a) != 3 {
		t.Errorf("a = %v", a)
	}
	if _, ok := a["z"]; !ok {
		t.Errorf("null must be kept for Helm to delete the chart default: %v", a)
	}
	if b := got["b"].([]any); len(b) != 1 || b[0] != 2 {
		t.Errorf("lists replace: b = %v", b)
	}
	if got["c"] != "keep" {
		t.Errorf("c = %v", got["c"])
	}
}

func FuzzParseConfig(f *testing.F) {
	f.Add([]byte("environments:\n  - name: dev\n    releases:\n      - {name: a, chart: c, needs: [b]}\n"))
	f.Add([]byte("environments:\n  - name: x\n    layout: digit\n    sync: {interval: 1m}\n"))
	f.Add([]byte("a: [\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseConfig("f.yaml", data)
		if err == nil && len(c.Environments) == 0 {
			t.Fatal("a config without environments was accepted")
		}
		if err != nil && !strings.HasPrefix(err.Error(), "f.yaml") {
			t.Fatalf("error does not name the file: %v", err)
		}
	})
}
