package main

import (
	"testing"

	"github.com/digitops/digitops/source/manifest"
)

func TestFilter_match(t *testing.T) {
	user := manifest.ReleaseSpec{Name: "egov-user", Namespace: "egov", Labels: map[string]string{"tier": "core"}}
	pgr := manifest.ReleaseSpec{Name: "pgr-services", Namespace: "egov", Labels: map[string]string{"tier": "core", "module": "pgr"}}
	tests := []struct {
		name string
		// releases and selectors are the --release and --selector values.
		releases, selectors []string
		// wantUser and wantPgr say which release matches.
		wantUser, wantPgr bool
	}{
		{name: "no filter", wantUser: true, wantPgr: true},
		{name: "by name", releases: []string{"egov-user"}, wantUser: true},
		{name: "label", selectors: []string{"module=pgr"}, wantPgr: true},
		{name: "implicit namespace", selectors: []string{"namespace=egov"}, wantUser: true, wantPgr: true},
		{name: "AND within a selector", selectors: []string{"tier=core,module!=pgr"}, wantUser: true},
		{name: "OR between selectors", selectors: []string{"name=egov-user", "module=pgr"}, wantUser: true, wantPgr: true},
		{name: "name and selector both hold", releases: []string{"egov-user"}, selectors: []string{"module=pgr"}},
		{name: "missing label", selectors: []string{"module=pgr"}, wantPgr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := newFilter(tt.releases, tt.selectors)
			if err != nil {
				t.Fatal(err)
			}
			if got := f.match(user); got != tt.wantUser {
				t.Errorf("egov-user: %v, want %v", got, tt.wantUser)
			}
			if got := f.match(pgr); got != tt.wantPgr {
				t.Errorf("pgr-services: %v, want %v", got, tt.wantPgr)
			}
		})
	}
	if _, err := newFilter(nil, []string{"tier"}); err == nil {
		t.Error("want an error for a selector without =")
	}
}
