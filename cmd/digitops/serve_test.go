package main

import (
	"context"
	"log/slog"
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
