package main

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// TestServe_sources: --repo (with --ref, --config and --env) is the first
// source; each --source adds one more, at its own #REF, with the same config
// path and all its environments; local paths become absolute.
func TestServe_sources(t *testing.T) {
	abs := func(p string) string {
		a, err := filepath.Abs(p)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	tests := []struct {
		name    string
		sources []string // --source values
		want    []string // URL|ref|environments of each daemon source
		wantErr string   // part of the error, "" for none
	}{
		{name: "only --repo", want: []string{abs("envs") + "|main|dev"}},
		{
			name:    "a remote source at a tag and a local one",
			sources: []string{"https://git.example.org/team.git#v1.2.0", "other"},
			want:    []string{abs("envs") + "|main|dev", "https://git.example.org/team.git|v1.2.0|", abs("other") + "||"},
		},
		{name: "a ref without a repository", sources: []string{"#main"}, wantErr: `--source "#main" names no repository`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := &globalOptions{repo: "envs", ref: "main", config: "digitops.yaml", env: "dev"}
			o := &serveOptions{cacheDir: t.TempDir(), sources: tt.sources}
			opts, err := o.daemonOptions(context.Background(), g, slog.New(slog.DiscardHandler))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, s := range opts.Sources {
				if s.ConfigPath != "digitops.yaml" {
					t.Errorf("source %s: config %q, want digitops.yaml", s.URL, s.ConfigPath)
				}
				got = append(got, s.URL+"|"+s.Ref+"|"+strings.Join(s.Environments, ","))
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("sources = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestServe_refusesPlaceholderSecrets: the daemon applies, so it never runs
// with placeholder secrets.
func TestServe_refusesPlaceholderSecrets(t *testing.T) {
	g := &globalOptions{repo: "envs", secrets: "placeholder"}
	o := &serveOptions{cacheDir: t.TempDir()}
	if _, err := o.daemonOptions(context.Background(), g, slog.New(slog.DiscardHandler)); err == nil || !strings.Contains(err.Error(), "drop --secrets=placeholder") {
		t.Errorf("serve --secrets=placeholder: %v", err)
	}
}

// TestServe_shardOptions: --shard takes its identity and address from the
// flags or the downward API, excludes --leader-elect, and says what is
// missing.
func TestServe_shardOptions(t *testing.T) {
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kubeconfig, []byte(`apiVersion: v1
kind: Config
clusters: [{name: home, cluster: {server: "https://127.0.0.1:6443"}}]
users: [{name: admin, user: {token: t}}]
contexts: [{name: home, context: {cluster: home, user: admin}}]
current-context: home
`), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		// o are the serve flags; env the downward API's variables.
		o   serveOptions
		env map[string]string
		// wantErr is part of the error, empty when it must succeed;
		// wantID and wantURL the identity and address then.
		wantErr, wantID, wantURL string
	}{
		{name: "downward API", o: serveOptions{shard: true, listen: ":8080"}, env: map[string]string{"POD_NAME": "digitops-7d9f-abcde", "POD_IP": "10.1.2.3"},
			wantID: "digitops-7d9f-abcde", wantURL: "http://10.1.2.3:8080"},
		{name: "flags win", o: serveOptions{shard: true, listen: ":8080", identity: "r1", advertise: "https://r1.digitops:8443/"}, env: map[string]string{"POD_NAME": "p", "POD_IP": "10.1.2.3"},
			wantID: "r1", wantURL: "https://r1.digitops:8443"},
		{name: "no address", o: serveOptions{shard: true, listen: ":8080", identity: "r1"}, wantErr: "--advertise-url"},
		{name: "not a URL", o: serveOptions{shard: true, listen: ":8080", identity: "r1", advertise: "ftp://x"}, wantErr: "not an http(s) URL"},
		{name: "with leader election", o: serveOptions{shard: true, leaderElect: true, listen: ":8080"}, wantErr: "exclude each other"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, k := range []string{"POD_NAME", "POD_IP", "POD_NAMESPACE"} {
				t.Setenv(k, tc.env[k])
			}
			g := &globalOptions{repo: "envs", secrets: "decrypt", kubeconfig: kubeconfig}
			o := tc.o
			o.cacheDir = t.TempDir()
			opts, err := o.daemonOptions(context.Background(), g, slog.New(slog.DiscardHandler))
			switch {
			case tc.wantErr != "":
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want it to say %q", err, tc.wantErr)
				}
			case err != nil:
				t.Fatal(err)
			case opts.Shard == nil || opts.Shard.Identity != tc.wantID || opts.Shard.Address != tc.wantURL || opts.Shard.Namespace != "digitops-system" || opts.LeaderElection != nil:
				t.Fatalf("shard options %+v (leader election %v)", opts.Shard, opts.LeaderElection)
			}
		})
	}
}
