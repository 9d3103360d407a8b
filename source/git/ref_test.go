package git

import (
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
)

const hexA = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

func TestParseRef(t *testing.T) {
	tests := []struct {
		in   string    // the --ref value
		want Reference // its parse
	}{
		{in: "", want: Reference{}},
		{in: "main", want: Reference{Name: "main"}},
		{in: " v1.2.0 ", want: Reference{Name: "v1.2.0"}},
		{in: "refs/pull/7/head", want: Reference{Name: "refs/pull/7/head"}},
		{in: "branch:release/1.x", want: Reference{Branch: "release/1.x"}},
		{in: "tag:v1.2.0", want: Reference{Tag: "v1.2.0"}},
		{in: "semver:>=1.0 <2", want: Reference{SemVer: ">=1.0 <2"}},
		{in: "sha1:" + strings.ToUpper(hexA), want: Reference{Commit: hexA}},
		{in: hexA, want: Reference{Commit: hexA}},
		{in: "main@sha1:" + hexA, want: Reference{Branch: "main", Commit: hexA}},
		{in: "refs/heads/dev@sha1:" + hexA, want: Reference{Branch: "dev", Commit: hexA}},
		{in: "v1.2.0@sha1:" + hexA, want: Reference{Branch: "v1.2.0", Commit: hexA}},
		{in: "refs/tags/v1@sha1:" + hexA, want: Reference{Commit: hexA}},
	}
	for _, tt := range tests {
		if got := ParseRef(tt.in); got != tt.want {
			t.Errorf("ParseRef(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
	}
}

func FuzzParseRef(f *testing.F) {
	for _, s := range []string{"main", "tag:v1", "semver:^1", "sha1:" + hexA, "x@sha1:" + hexA, "refs/a"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r := ParseRef(s)
		if r.validate() != nil {
			return
		}
		// what String renders parses back to the same winning selector
		if back := ParseRef(r.String()); back.String() != r.String() {
			t.Errorf("%q: %+v renders %q, which parses to %+v", s, r, r.String(), back)
		}
	})
}

func TestResolve(t *testing.T) {
	h := func(c byte) plumbing.Hash { return plumbing.NewHash(strings.Repeat(string(c), 40)) }
	refs := []*plumbing.Reference{
		plumbing.NewSymbolicReference(plumbing.HEAD, "refs/heads/trunk"),
		plumbing.NewHashReference("refs/heads/trunk", h('1')),
		plumbing.NewHashReference("refs/heads/v2", h('2')),
		plumbing.NewHashReference("refs/tags/v2", h('3')),    // annotated: tag object...
		plumbing.NewHashReference("refs/tags/v2^{}", h('4')), // ...peeled to this commit
		plumbing.NewHashReference("refs/tags/1.5.0", h('5')),
		plumbing.NewHashReference("refs/tags/v1.10.0", h('6')),
		plumbing.NewHashReference("refs/tags/not-a-version", h('7')),
	}
	tests := []struct {
		ref      Reference              // the selector
		wantRef  plumbing.ReferenceName // the reference to fetch
		wantHash plumbing.Hash          // the commit the remote advertises
		wantRev  string                 // revision label
	}{
		{ref: Reference{}, wantRef: "refs/heads/trunk", wantHash: h('1'), wantRev: "trunk"},
		{ref: Reference{Name: "v2"}, wantRef: "refs/tags/v2", wantHash: h('4'), wantRev: "v2"}, // tags before heads, as git
		{ref: Reference{Name: "heads/v2"}, wantRef: "refs/heads/v2", wantHash: h('2'), wantRev: "heads/v2"},
		{ref: Reference{Tag: "v2"}, wantRef: "refs/tags/v2", wantHash: h('4'), wantRev: "v2"},
		{ref: Reference{SemVer: "1.x"}, wantRef: "refs/tags/v1.10.0", wantHash: h('6'), wantRev: "v1.10.0"},
		{ref: Reference{SemVer: "<1.6"}, wantRef: "refs/tags/1.5.0", wantHash: h('5'), wantRev: "1.5.0"},
		{ref: Reference{Branch: "v2"}, wantRef: "refs/heads/v2", wantHash: h('2'), wantRev: "v2"},
		{ref: Reference{Commit: hexA}, wantRef: "", wantHash: plumbing.NewHash(hexA), wantRev: ""},
	}
	for _, tt := range tests {
		got, err := resolve(tt.ref, refs)
		if err != nil {
			t.Errorf("%v: %v", tt.ref, err)
			continue
		}
		if got.remoteRef != tt.wantRef || got.hash != tt.wantHash || got.label != tt.wantRev {
			t.Errorf("%v: got %+v", tt.ref, got)
		}
	}
}

func TestObservedHash(t *testing.T) {
	for in, want := range map[string]string{
		"main@sha1:" + hexA: hexA,
		"sha1:" + hexA:      hexA,
		hexA:                hexA,
		"":                  plumbing.ZeroHash.String(),
		"main@sha1:abc":     plumbing.ZeroHash.String(),
	} {
		if got := observedHash(in).String(); got != want {
			t.Errorf("observedHash(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestSanitizeURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"https://user:s3cret@github.com/org/repo.git?token=abc#frag", "https://github.com/org/repo.git"},
		{"https://x-access-token:ghp_123@github.com/org/repo", "https://github.com/org/repo"},
		{"ssh://git@example.com:2222/org/repo.git", "ssh://example.com:2222/org/repo.git"},
		{"git@github.com:org/repo.git", "git@github.com:org/repo.git"},
		{"/srv/git/repo", "/srv/git/repo"},
		{"http://us er:p@ss@host/x?y", "http://host/x"}, // unparsable, stripped by hand
	}
	for _, tt := range tests {
		if got := SanitizeURL(tt.in); got != tt.want {
			t.Errorf("SanitizeURL(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestSanitizeError(t *testing.T) {
	msg := `Get "https://bob:hunter22@h/r.git/info/refs?service=git-upload-pack": bad; token tok-999 and hunter22`
	err := sanitizeError(errTest(msg), []string{"tok-999", "hunter22", ""})
	for _, secret := range []string{"hunter22", "tok-999", "service="} {
		if strings.Contains(err.Error(), secret) {
			t.Errorf("%q left in %q", secret, err.Error())
		}
	}
	if !strings.Contains(err.Error(), "https://h/r.git/info/refs") {
		t.Errorf("URL lost: %q", err.Error())
	}
}

// TestSanitizeError_nestedSecrets masks a credential that contains another
// whole: masking the shorter one first would leave the longer one's ends.
func TestSanitizeError_nestedSecrets(t *testing.T) {
	for _, secrets := range [][]string{
		{"s3cret", "my-s3cret-token"},
		{"my-s3cret-token", "s3cret"},
	} {
		err := sanitizeError(errTest("auth with my-s3cret-token failed; s3cret alone"), secrets)
		if got, want := err.Error(), "auth with *** failed; *** alone"; got != want {
			t.Errorf("secrets %q: got %q, want %q", secrets, got, want)
		}
	}
}

type errTest string

func (e errTest) Error() string { return string(e) }

func TestParseEndpoint(t *testing.T) {
	tests := []struct {
		in      string // the user's URL
		wantSSH bool   // dialled over SSH
		user    string // user found in the URL
		wantErr string // substring of the error, if any
	}{
		{in: "https://u:p@h/r.git", user: "u"},
		{in: "http://h/r.git"},
		{in: "ssh://git@h:22/r.git", wantSSH: true, user: "git"},
		{in: "git@github.com:org/repo.git", wantSSH: true, user: "git"},
		{in: "github.com:org/repo.git", wantSSH: true},
		{in: "ftp://h/r.git", wantErr: "unsupported URL scheme"},
		{in: "", wantErr: "empty"},
		{in: t.TempDir(), wantErr: "not a git repository"},
	}
	for _, tt := range tests {
		ep, err := parseEndpoint(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%q: error %v, want %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil || ep.ssh != tt.wantSSH || ep.user != tt.user {
			t.Errorf("%q: got %+v, %v", tt.in, ep, err)
		}
	}
}
