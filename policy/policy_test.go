package policy_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/digitops/digitops/policy"
	"github.com/digitops/digitops/source/manifest"
)

const file = "/etc/digitops/policy.yaml"

// mustParse parses a policy the test means to be valid.
func mustParse(t *testing.T, data string) *policy.Policy {
	t.Helper()
	p, err := policy.Parse(file, []byte(data))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return p
}

// rulesFor parses data and returns the rules of environment env.
func rulesFor(t *testing.T, data, env string) *policy.Rules {
	t.Helper()
	r, err := mustParse(t, data).For(env)
	if err != nil {
		t.Fatalf("For(%q): %v", env, err)
	}
	if r == nil {
		t.Fatalf("For(%q): nil rules", env)
	}
	return r
}

// checkOneLine fails when an error message spans lines.
func checkOneLine(t *testing.T, err error) {
	t.Helper()
	if err != nil && strings.ContainsAny(err.Error(), "\r\n") {
		t.Errorf("error spans lines: %q", err)
	}
}

func TestParse_errors(t *testing.T) {
	tests := []struct {
		name string
		// data is the policy file.
		data string
		// line is the line the error must name (0: none).
		line int
		// msg is a substring of the error's Msg.
		msg string
	}{
		{name: "empty file", data: "", msg: "the policy has no environments"},
		{name: "only comments", data: "# nothing\n", msg: "the policy has no environments"},
		{name: "no environments key", data: "{}\n", msg: "the policy has no environments"},
		{name: "empty environments", data: "environments: {}\n", msg: "the policy has no environments"},
		{name: "null environments", data: "environments:\n", msg: "the policy has no environments"},
		{
			name: "unknown field in an entry",
			data: "environments:\n  \"*\":\n    namespace: [egov]\n",
			line: 3,
			msg:  `unknown field "namespace" (want namespaces, clusterScoped, clusters or lookup)`,
		},
		{
			name: "unknown top-level field",
			data: "environment:\n  dev: {}\n",
			line: 1,
			msg:  `unknown field "environment" (want environments)`,
		},
		{
			name: "unknown field in a cluster entry",
			data: "environments:\n  dev:\n    clusters:\n      - contxt: dev\n",
			line: 4,
			msg:  `unknown field "contxt" (want context, kubeconfig or kubeconfigSecret)`,
		},
		{
			name: "unknown field in a kubeconfigSecret",
			data: "environments:\n  dev:\n    clusters:\n      - kubeconfigSecret:\n          name: dev\n          nmespace: x\n",
			line: 6,
			msg:  `unknown field "nmespace" (want namespace, name or key)`,
		},
		{
			name: "a string where a list goes",
			data: "environments:\n  dev:\n    namespaces: egov\n",
			line: 3,
			msg:  "cannot unmarshal !!str `egov` into a list",
		},
		{
			name: "a list where the environments mapping goes",
			data: "environments: [dev]\n",
			line: 1,
			msg:  "cannot unmarshal !!seq into a mapping of environments to rules",
		},
		{
			name: "syntax error",
			data: "environments:\n  dev: {}\n  prod: a: b\n",
			line: 3,
			msg:  "invalid YAML",
		},
		{
			name: "duplicate key",
			data: "environments:\n  dev: {}\n  dev: {}\n",
			line: 3,
			msg:  "already defined",
		},
		{
			name: "bad glob key",
			data: "environments:\n  dev: {}\n  \"prod-[\": {}\n",
			line: 3,
			msg:  `environments["prod-["]: not an environment name or glob (syntax error in pattern)`,
		},
		{
			name: "empty key",
			data: "environments:\n  \"\": {}\n",
			line: 2,
			msg:  `environments[""]: an empty environment name`,
		},
		{
			name: "null key",
			data: "environments:\n  dev: {}\n  ~: {}\n",
			line: 3,
			msg:  `environments[""]: an empty environment name`,
		},
		{
			name: "bad namespace glob",
			data: "environments:\n  dev:\n    namespaces:\n      - egov\n      - \"digit-[\"\n",
			line: 5,
			msg:  `environments["dev"].namespaces: "digit-[" is not a namespace or glob`,
		},
		{
			name: "empty namespace",
			data: "environments:\n  dev:\n    namespaces: [egov, \"\"]\n",
			line: 3,
			msg:  `environments["dev"].namespaces: an empty entry`,
		},
		{
			name: "namespace that is not a DNS label",
			data: "environments:\n  dev:\n    namespaces: [Egov]\n",
			line: 3,
			msg:  `"Egov" is not a namespace`,
		},
		{
			name: "kind with a space",
			data: "environments:\n  dev:\n    clusterScoped:\n      - cluster role\n",
			line: 4,
			msg:  `environments["dev"].clusterScoped: "cluster role" is not "*", Kind or Kind.group`,
		},
		{
			name: "kind with an empty group",
			data: "environments:\n  dev:\n    clusterScoped: [Namespace.]\n",
			line: 3,
			msg:  `"Namespace." is not "*", Kind or Kind.group`,
		},
		{
			name: "kind glob",
			data: "environments:\n  dev:\n    clusterScoped: [\"Cluster*\"]\n",
			line: 3,
			msg:  `"Cluster*" is not`,
		},
		{
			name: "cluster entry that sets nothing",
			data: "environments:\n  dev:\n    clusters:\n      - context: dev\n      - {}\n",
			line: 5,
			msg:  `environments["dev"].clusters[1]: an entry that sets nothing`,
		},
		{
			name: "cluster entry with two kubeconfigs",
			data: "environments:\n  dev:\n    clusters:\n      - {kubeconfig: /a, kubeconfigSecret: {name: dev}}\n",
			line: 4,
			msg:  "kubeconfig and kubeconfigSecret are two kubeconfigs",
		},
		{
			name: "kubeconfigSecret without a name",
			data: "environments:\n  dev:\n    clusters:\n      - kubeconfigSecret: {namespace: digitops}\n",
			line: 4,
			msg:  "kubeconfigSecret without a name",
		},
		{
			name: "second document",
			data: "environments:\n  dev: {}\n---\nenvironments:\n  prod: {}\n",
			line: 3,
			msg:  "a second YAML document",
		},
		{
			name: "too deep",
			data: "environments:\n  dev:\n    namespaces: " + strings.Repeat("[", 1001) + "\n",
			line: 3,
			msg:  "YAML nested deeper than 1000 levels",
		},
		{
			name: "larger than 1 MiB",
			data: "environments: {dev: {}}\n#" + strings.Repeat("x", policy.MaxSize),
			msg:  "the policy is larger than 1 MiB",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := policy.Parse(file, []byte(tt.data))
			if err == nil {
				t.Fatalf("Parse = %v, want an error", p)
			}
			var pe *policy.Error
			if !errors.As(err, &pe) {
				t.Fatalf("error %T %v is not a *policy.Error", err, err)
			}
			if pe.File != file || pe.Line != tt.line || !strings.Contains(pe.Msg, tt.msg) {
				t.Errorf("error = file %q line %d msg %q, want file %q line %d msg containing %q", pe.File, pe.Line, pe.Msg, file, tt.line, tt.msg)
			}
			if !strings.HasPrefix(err.Error(), file) {
				t.Errorf("error %q does not start with the file", err)
			}
			checkOneLine(t, err)
		})
	}
}

func TestParse_wholeErrors(t *testing.T) {
	tests := []struct {
		// data is the policy file, want the whole error.
		data, want string
	}{
		{
			data: "environments:\n  \"*\":\n    namespace: [egov]\n",
			want: file + `:3: unknown field "namespace" (want namespaces, clusterScoped, clusters or lookup)`,
		},
		{
			data: "",
			want: file + ": the policy has no environments (it needs an environments: mapping of environment names or globs to rules)",
		},
		{
			data: "environments:\n  dev:\n    clusters: [{}]\n",
			want: file + `:3: environments["dev"].clusters[0]: an entry that sets nothing (set context, kubeconfig or kubeconfigSecret)`,
		},
	}
	for _, tt := range tests {
		_, err := policy.Parse(file, []byte(tt.data))
		if err == nil || err.Error() != tt.want {
			t.Errorf("Parse(%q) error =\n  %v\nwant\n  %s", tt.data, err, tt.want)
		}
	}
}

func TestRead(t *testing.T) {
	ctx := context.Background()
	p, err := policy.Read(ctx, filepath.Join("testdata", "policy.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := p.Path(), filepath.Join("testdata", "policy.yaml"); got != want {
		t.Errorf("Path() = %q, want %q", got, want)
	}
	r, err := p.For("prod-eu")
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Namespace("egov"); err != nil {
		t.Errorf("prod-eu: Namespace(egov) = %v", err)
	}
	if err := r.Namespace("digit-x"); err == nil {
		t.Error("prod-eu: Namespace(digit-x) allowed, want refused by prod-*")
	}

	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.yaml")
	if _, err := policy.Read(ctx, missing); err == nil || err.Error() != missing+": cannot read the policy: no such file or directory" {
		t.Errorf("Read(missing) error = %v", err)
	}

	big := filepath.Join(dir, "big.yaml")
	if err := os.WriteFile(big, []byte("environments: {dev: {}}\n#"+strings.Repeat("x", policy.MaxSize)), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := policy.Read(ctx, big); err == nil || err.Error() != big+": the policy is larger than 1 MiB" {
		t.Errorf("Read(big) error = %v", err)
	}

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := policy.Read(cancelled, filepath.Join("testdata", "policy.yaml")); !errors.Is(err, context.Canceled) {
		t.Errorf("Read(cancelled) error = %v, want context.Canceled", err)
	}
}

func TestPolicy_For(t *testing.T) {
	tests := []struct {
		name string
		// data is the policy file; every entry refuses lookup, so that the
		// entry For chose shows in Lookup's error.
		data string
		// env is the environment asked for.
		env string
		// rule is the rule the chosen entry's Lookup names, "" when For
		// must fail.
		rule string
	}{
		{
			name: "exact beats glob",
			data: "environments: {\"*\": {}, \"d*\": {}, \"dev*\": {}, dev: {}}",
			env:  "dev",
			rule: `environments["dev"].lookup`,
		},
		{
			name: "longest glob",
			data: "environments: {\"*\": {}, \"p*\": {}, \"prod-*\": {}, dev: {}}",
			env:  "prod-eu",
			rule: `environments["prod-*"].lookup`,
		},
		{
			name: "catch-all",
			data: "environments: {\"*\": {}, \"p*\": {}, dev: {}}",
			env:  "qa",
			rule: `environments["*"].lookup`,
		},
		{
			name: "tie broken in lexical order",
			data: "environments: {\"ab?\": {}, \"a?c\": {}}",
			env:  "abc",
			rule: `environments["a?c"].lookup`,
		},
		{
			name: "a longer glob that does not match",
			data: "environments: {\"prod-*\": {}, \"q*\": {}}",
			env:  "qa",
			rule: `environments["q*"].lookup`,
		},
		{
			name: "no match",
			data: "environments: {\"prod-*\": {}, dev: {}}",
			env:  "qa",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := mustParse(t, tt.data).For(tt.env)
			if tt.rule == "" {
				if err == nil {
					t.Fatalf("For(%q) = %v, want an error", tt.env, r)
				}
				return
			}
			if err != nil {
				t.Fatalf("For(%q): %v", tt.env, err)
			}
			var re *policy.RefusedError
			if err := r.Lookup(); !errors.As(err, &re) || re.Rule != tt.rule {
				t.Errorf("For(%q) chose the entry of %v, want %s", tt.env, err, tt.rule)
			}
		})
	}
}

func TestPolicy_For_noEntry(t *testing.T) {
	p := mustParse(t, "environments: {\"prod-*\": {}, dev: {}, a: {}, b: {}, c: {}, d: {}}")
	r, err := p.For("qa")
	want := `environment "qa" is not allowed: policy ` + file + ` has no entry for it (environments: a, b, c, d, dev and 1 more)`
	if r != nil || err == nil || err.Error() != want {
		t.Errorf("For(qa) = %v, %v; want nil and\n  %s", r, err, want)
	}
}

func TestPolicy_nil(t *testing.T) {
	var p *policy.Policy
	r, err := p.For("prod")
	if r != nil || err != nil {
		t.Fatalf("nil policy: For = %v, %v; want nil, nil", r, err)
	}
	if p.Path() != "" {
		t.Errorf("nil policy: Path() = %q", p.Path())
	}
	// Nil rules allow everything.
	for name, err := range map[string]error{
		"Namespace": r.Namespace("kube-system"),
		"Object":    r.Object(policy.Object{Group: "rbac.authorization.k8s.io", Kind: "ClusterRoleBinding", Name: "admin", ClusterScoped: true}),
		"Cluster":   r.Cluster(manifest.ClusterRef{Context: "prod"}),
		"Lookup":    r.Lookup(),
	} {
		if err != nil {
			t.Errorf("nil rules: %s = %v, want nil", name, err)
		}
	}
}

func TestRules_Namespace(t *testing.T) {
	tests := []struct {
		name string
		// namespaces is the entry's namespaces: field ("" leaves it out).
		namespaces string
		// ns is the release namespace, allowed whether Namespace allows it.
		ns      string
		allowed bool
	}{
		{name: "listed", namespaces: "[egov, \"digit-*\"]", ns: "egov", allowed: true},
		{name: "glob", namespaces: "[egov, \"digit-*\"]", ns: "digit-ui", allowed: true},
		{name: "not listed", namespaces: "[egov, \"digit-*\"]", ns: "kube-system"},
		{name: "prefix is not a match", namespaces: "[egov]", ns: "egov-2"},
		{name: "any", namespaces: "[\"*\"]", ns: "kube-system", allowed: true},
		{name: "left out allows none", ns: "egov"},
		{name: "empty allows none", namespaces: "[]", ns: "egov"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := "environments:\n  dev: {}\n"
			if tt.namespaces != "" {
				data = "environments:\n  dev:\n    namespaces: " + tt.namespaces + "\n"
			}
			err := rulesFor(t, data, "dev").Namespace(tt.ns)
			if (err == nil) != tt.allowed {
				t.Errorf("Namespace(%q) = %v, want allowed %v", tt.ns, err, tt.allowed)
			}
			checkOneLine(t, err)
		})
	}
}

func TestRules_Object(t *testing.T) {
	const data = `environments:
  dev:
    namespaces: [egov, "digit-*"]
    clusterScoped: [Namespace, ClusterRole.rbac.authorization.k8s.io, PriorityClass]
  any:
    namespaces: ["*"]
    clusterScoped: ["*"]
  none: {}
`
	tests := []struct {
		name string
		// env is the environment whose rules decide.
		env string
		// obj is the rendered object.
		obj policy.Object
		// want is the whole error, "" when allowed.
		want string
	}{
		{
			name: "namespaced in an allowed namespace",
			env:  "dev",
			obj:  policy.Object{Group: "apps", Kind: "Deployment", Namespace: "digit-ui", Name: "web"},
		},
		{
			name: "namespaced elsewhere",
			env:  "dev",
			obj:  policy.Object{Group: "apps", Kind: "Deployment", Namespace: "kube-system", Name: "coredns"},
			want: `Deployment kube-system/coredns is not allowed: policy ` + file + `, environments["dev"].namespaces allows egov, digit-*`,
		},
		{
			name: "cluster-scoped kind not listed",
			env:  "dev",
			obj:  policy.Object{Group: "rbac.authorization.k8s.io", Kind: "ClusterRoleBinding", Name: "admin-all", ClusterScoped: true},
			want: `ClusterRoleBinding/admin-all is not allowed: policy ` + file + `, environments["dev"].clusterScoped allows Namespace, ClusterRole.rbac.authorization.k8s.io, PriorityClass`,
		},
		{
			name: "Kind.group in its group",
			env:  "dev",
			obj:  policy.Object{Group: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "reader", ClusterScoped: true},
		},
		{
			name: "Kind.group in another group names the group",
			env:  "dev",
			obj:  policy.Object{Group: "example.com", Kind: "ClusterRole", Name: "reader", ClusterScoped: true},
			want: `ClusterRole.example.com/reader is not allowed: policy ` + file + `, environments["dev"].clusterScoped allows Namespace, ClusterRole.rbac.authorization.k8s.io, PriorityClass`,
		},
		{
			name: "Kind alone in any group",
			env:  "dev",
			obj:  policy.Object{Group: "example.com", Kind: "PriorityClass", Name: "high", ClusterScoped: true},
		},
		{
			name: "kinds are case-sensitive",
			env:  "dev",
			obj:  policy.Object{Group: "scheduling.k8s.io", Kind: "Priorityclass", Name: "high", ClusterScoped: true},
			want: `Priorityclass/high is not allowed: policy ` + file + `, environments["dev"].clusterScoped allows Namespace, ClusterRole.rbac.authorization.k8s.io, PriorityClass`,
		},
		{
			name: "Namespace with an allowed name",
			env:  "dev",
			obj:  policy.Object{Kind: "Namespace", Name: "digit-ui", ClusterScoped: true},
		},
		{
			name: "Namespace with a name outside namespaces",
			env:  "dev",
			obj:  policy.Object{Kind: "Namespace", Name: "kube-system", ClusterScoped: true},
			want: `Namespace/kube-system is not allowed: policy ` + file + `, environments["dev"].namespaces allows egov, digit-*`,
		},
		{
			name: "Namespace whose name is allowed but not the kind",
			env:  "none",
			obj:  policy.Object{Kind: "Namespace", Name: "egov", ClusterScoped: true},
			want: `Namespace/egov is not allowed: policy ` + file + `, environments["none"].clusterScoped allows none`,
		},
		{
			name: "a Namespace kind of another group is not a namespace",
			env:  "dev",
			obj:  policy.Object{Group: "example.com", Kind: "Namespace", Name: "kube-system", ClusterScoped: true},
		},
		{
			name: "any namespace and any kind",
			env:  "any",
			obj:  policy.Object{Group: "rbac.authorization.k8s.io", Kind: "ClusterRoleBinding", Name: "admin-all", ClusterScoped: true},
		},
		{
			name: "a Namespace with any",
			env:  "any",
			obj:  policy.Object{Kind: "Namespace", Name: "kube-system", ClusterScoped: true},
		},
		{
			name: "nothing allowed",
			env:  "none",
			obj:  policy.Object{Kind: "ConfigMap", Namespace: "egov", Name: "x"},
			want: `ConfigMap egov/x is not allowed: policy ` + file + `, environments["none"].namespaces allows none`,
		},
		{
			name: "a name that needs quoting",
			env:  "dev",
			obj:  policy.Object{Kind: "ConfigMap", Namespace: "kube-system", Name: "a b\nc"},
			want: `ConfigMap kube-system/"a b\nc" is not allowed: policy ` + file + `, environments["dev"].namespaces allows egov, digit-*`,
		},
	}
	p := mustParse(t, data)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := p.For(tt.env)
			if err != nil {
				t.Fatal(err)
			}
			err = r.Object(tt.obj)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("Object(%+v) = %v, want allowed", tt.obj, err)
			case tt.want != "" && (err == nil || err.Error() != tt.want):
				t.Errorf("Object(%+v) =\n  %v\nwant\n  %s", tt.obj, err, tt.want)
			}
			checkOneLine(t, err)
		})
	}
}

func TestRules_Cluster(t *testing.T) {
	const data = `environments:
  dev:
    clusters:
      - context: dev
      - kubeconfigSecret: {namespace: digitops, name: dev}
      - kubeconfig: /etc/digitops/uat.yaml
      - {kubeconfigSecret: {namespace: digitops, name: prod, key: value}, context: prod}
  none: {}
`
	secret := func(ns, name, key string) *manifest.SecretKeyRef {
		return &manifest.SecretKeyRef{Namespace: ns, Name: name, Key: key}
	}
	tests := []struct {
		name string
		// env is the environment whose rules decide.
		env string
		// ref is the environment's cluster.
		ref     manifest.ClusterRef
		allowed bool
	}{
		{name: "the operator's cluster", env: "dev", allowed: true},
		{name: "the operator's cluster without clusters", env: "none", allowed: true},
		{name: "a context without clusters", env: "none", ref: manifest.ClusterRef{Context: "dev"}},
		{name: "a listed context", env: "dev", ref: manifest.ClusterRef{Context: "dev"}, allowed: true},
		{name: "another context", env: "dev", ref: manifest.ClusterRef{Context: "prod"}},
		{
			name: "a listed context in another kubeconfig",
			env:  "dev",
			ref:  manifest.ClusterRef{Kubeconfig: "/tmp/k3s.yaml", Context: "dev"},
		},
		{name: "a listed kubeconfig", env: "dev", ref: manifest.ClusterRef{Kubeconfig: "/etc/digitops/uat.yaml"}, allowed: true},
		{
			name:    "a listed kubeconfig, any context",
			env:     "dev",
			ref:     manifest.ClusterRef{Kubeconfig: "/etc/digitops/uat.yaml", Context: "admin"},
			allowed: true,
		},
		{
			name:    "a listed kubeconfig, path cleaned",
			env:     "dev",
			ref:     manifest.ClusterRef{Kubeconfig: "/etc/digitops/x/../uat.yaml"},
			allowed: true,
		},
		{
			name:    "a listed kubeconfig, path with a dot",
			env:     "dev",
			ref:     manifest.ClusterRef{Kubeconfig: "/etc//digitops/./uat.yaml"},
			allowed: true,
		},
		{name: "another kubeconfig", env: "dev", ref: manifest.ClusterRef{Kubeconfig: "/etc/digitops/prod.yaml"}},
		{name: "a listed Secret", env: "dev", ref: manifest.ClusterRef{KubeconfigSecret: secret("digitops", "dev", "")}, allowed: true},
		{
			name:    "a listed Secret, any key",
			env:     "dev",
			ref:     manifest.ClusterRef{KubeconfigSecret: secret("digitops", "dev", "kubeconfig")},
			allowed: true,
		},
		{name: "a Secret in another namespace", env: "dev", ref: manifest.ClusterRef{KubeconfigSecret: secret("default", "dev", "")}},
		{name: "a Secret whose namespace is left out", env: "dev", ref: manifest.ClusterRef{KubeconfigSecret: secret("", "dev", "")}},
		{
			name: "a listed Secret with a kubeconfig besides",
			env:  "dev",
			ref:  manifest.ClusterRef{KubeconfigSecret: secret("digitops", "dev", ""), Kubeconfig: "/tmp/k.yaml"},
		},
		{
			name:    "the key and context an entry sets",
			env:     "dev",
			ref:     manifest.ClusterRef{KubeconfigSecret: secret("digitops", "prod", "value"), Context: "prod"},
			allowed: true,
		},
		{
			name: "another key than the entry sets",
			env:  "dev",
			ref:  manifest.ClusterRef{KubeconfigSecret: secret("digitops", "prod", "kubeconfig"), Context: "prod"},
		},
		{
			name: "no key where the entry sets one",
			env:  "dev",
			ref:  manifest.ClusterRef{KubeconfigSecret: secret("digitops", "prod", ""), Context: "prod"},
		},
		{
			name: "another context than the entry sets",
			env:  "dev",
			ref:  manifest.ClusterRef{KubeconfigSecret: secret("digitops", "prod", "value"), Context: "admin"},
		},
	}
	p := mustParse(t, data)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := p.For(tt.env)
			if err != nil {
				t.Fatal(err)
			}
			err = r.Cluster(tt.ref)
			if (err == nil) != tt.allowed {
				t.Errorf("Cluster(%+v) = %v, want allowed %v", tt.ref, err, tt.allowed)
			}
			checkOneLine(t, err)
		})
	}
}

func TestRules_messages(t *testing.T) {
	const data = `environments:
  "*":
    namespaces: [egov, "digit-*"]
    clusterScoped: [Namespace]
  dev:
    namespaces: [a, b, c, d, e, f, g]
    clusters:
      - context: dev
      - kubeconfigSecret: {namespace: digitops, name: dev}
      - kubeconfig: /etc/digitops/uat.yaml
      - {kubeconfigSecret: {name: prod, key: value}, context: prod}
`
	p := mustParse(t, data)
	star, err := p.For("qa")
	if err != nil {
		t.Fatal(err)
	}
	dev, err := p.For("dev")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		// err is what a rule returned, want its whole message.
		err  error
		want string
	}{
		{
			err:  star.Namespace("kube-system"),
			want: `Namespace "kube-system" is not allowed: policy ` + file + `, environments["*"].namespaces allows egov, digit-*`,
		},
		{
			err:  star.Object(policy.Object{Group: "rbac.authorization.k8s.io", Kind: "ClusterRoleBinding", Name: "admin-all", ClusterScoped: true}),
			want: `ClusterRoleBinding/admin-all is not allowed: policy ` + file + `, environments["*"].clusterScoped allows Namespace`,
		},
		{
			err:  dev.Cluster(manifest.ClusterRef{Context: "prod"}),
			want: `cluster context "prod" is not allowed: policy ` + file + `, environments["dev"].clusters allows context dev, kubeconfigSecret digitops/dev, kubeconfig /etc/digitops/uat.yaml, kubeconfigSecret prod key value context prod`,
		},
		{
			err:  star.Cluster(manifest.ClusterRef{Kubeconfig: "/tmp/k.yaml", Context: "x"}),
			want: `cluster kubeconfig "/tmp/k.yaml" context "x" is not allowed: policy ` + file + `, environments["*"].clusters allows none`,
		},
		{
			err:  star.Cluster(manifest.ClusterRef{KubeconfigSecret: &manifest.SecretKeyRef{Namespace: "digitops", Name: "prod", Key: "value"}}),
			want: `cluster kubeconfigSecret "digitops/prod" key "value" is not allowed: policy ` + file + `, environments["*"].clusters allows none`,
		},
		{
			err:  star.Lookup(),
			want: `lookup is not allowed: policy ` + file + `, environments["*"].lookup is false`,
		},
		{
			err:  dev.Namespace("z"),
			want: `Namespace "z" is not allowed: policy ` + file + `, environments["dev"].namespaces allows a, b, c, d, e and 2 more`,
		},
		{
			err:  dev.Object(policy.Object{Kind: "Namespace", Name: "z", ClusterScoped: true}),
			want: `Namespace/z is not allowed: policy ` + file + `, environments["dev"].clusterScoped allows none`,
		},
	}
	for i, tt := range tests {
		if tt.err == nil || tt.err.Error() != tt.want {
			t.Errorf("message %d =\n  %v\nwant\n  %s", i, tt.err, tt.want)
		}
		var re *policy.RefusedError
		if !errors.As(tt.err, &re) || re.File != file {
			t.Errorf("message %d: %T is not a *policy.RefusedError naming the file", i, tt.err)
		}
	}
}

func TestRules_Lookup(t *testing.T) {
	tests := []struct {
		// lookup is the entry's lookup: field ("" leaves it out).
		lookup  string
		allowed bool
	}{
		{lookup: "", allowed: false},
		{lookup: "false", allowed: false},
		{lookup: "true", allowed: true},
	}
	for _, tt := range tests {
		data := "environments:\n  dev: {}\n"
		if tt.lookup != "" {
			data = "environments:\n  dev:\n    lookup: " + tt.lookup + "\n"
		}
		if err := rulesFor(t, data, "dev").Lookup(); (err == nil) != tt.allowed {
			t.Errorf("lookup %q: Lookup() = %v, want allowed %v", tt.lookup, err, tt.allowed)
		}
	}
}

func TestClusterScopedKind(t *testing.T) {
	tests := []struct {
		// group and kind are asked about; scoped and known are the answer.
		group, kind   string
		scoped, known bool
	}{
		{group: "", kind: "Namespace", scoped: true, known: true},
		{group: "", kind: "PersistentVolume", scoped: true, known: true},
		{group: "rbac.authorization.k8s.io", kind: "ClusterRoleBinding", scoped: true, known: true},
		{group: "apiextensions.k8s.io", kind: "CustomResourceDefinition", scoped: true, known: true},
		{group: "apiregistration.k8s.io", kind: "APIService", scoped: true, known: true},
		{group: "admissionregistration.k8s.io", kind: "MutatingAdmissionPolicyBinding", scoped: true, known: true},
		{group: "flowcontrol.apiserver.k8s.io", kind: "FlowSchema", scoped: true, known: true},
		{group: "internal.apiserver.k8s.io", kind: "StorageVersion", scoped: true, known: true},
		{group: "storagemigration.k8s.io", kind: "StorageVersionMigration", scoped: true, known: true},
		{group: "resource.k8s.io", kind: "DeviceTaintRule", scoped: true, known: true},
		{group: "networking.k8s.io", kind: "ServiceCIDR", scoped: true, known: true},
		{group: "authentication.k8s.io", kind: "SelfSubjectReview", scoped: true, known: true},
		{group: "authorization.k8s.io", kind: "SelfSubjectRulesReview", scoped: true, known: true},
		{group: "", kind: "Pod", scoped: false, known: true},
		{group: "apps", kind: "Deployment", scoped: false, known: true},
		{group: "rbac.authorization.k8s.io", kind: "RoleBinding", scoped: false, known: true},
		{group: "events.k8s.io", kind: "Event", scoped: false, known: true},
		{group: "policy", kind: "PodDisruptionBudget", scoped: false, known: true},
		// A kind in the wrong group, a custom resource, a kind's case.
		{group: "", kind: "ClusterRole"},
		{group: "monitoring.coreos.com", kind: "ServiceMonitor"},
		{group: "", kind: "namespace"},
	}
	for _, tt := range tests {
		scoped, known := policy.ClusterScopedKind(tt.group, tt.kind)
		if scoped != tt.scoped || known != tt.known {
			t.Errorf("ClusterScopedKind(%q, %q) = %v, %v; want %v, %v", tt.group, tt.kind, scoped, known, tt.scoped, tt.known)
		}
	}
}

func FuzzParse(f *testing.F) {
	if data, err := os.ReadFile(filepath.Join("testdata", "policy.yaml")); err == nil {
		f.Add(data)
	}
	for _, s := range []string{
		"",
		"environments: {\"*\": {namespaces: [\"*\"], clusterScoped: [\"*\"], lookup: true}}",
		"environments:\n  dev:\n    clusters: [{context: dev}, {kubeconfig: ./a/../k}]\n",
		"environments: &a {x: {}}\nenvironments2: *a\n",
		"environments:\n  <<: {dev: {}}\n",
		"environments: {\"[\": {}}",
		"environments: {dev: {namespaces: [\"\\n\"]}}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := policy.Parse(file, data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), file) {
				t.Errorf("error %q does not name the file", err)
			}
			checkOneLine(t, err)
			return
		}
		for _, env := range []string{"dev", "prod-eu", ""} {
			r, err := p.For(env)
			checkOneLine(t, err)
			if err != nil {
				continue
			}
			checkOneLine(t, r.Namespace("kube-system"))
			checkOneLine(t, r.Object(policy.Object{Kind: "Namespace", Name: "x\ny", ClusterScoped: true}))
			checkOneLine(t, r.Cluster(manifest.ClusterRef{Context: "a\nb"}))
			checkOneLine(t, r.Lookup())
		}
	})
}
