package git

import (
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/Masterminds/semver/v3"
	"github.com/go-git/go-git/v5/plumbing"
)

// Reference selects what to check out. When several fields are set the most
// precise wins, as in Flux: Commit > Name > Tag > SemVer > Branch. The zero
// Reference means the remote's default branch (its HEAD).
type Reference struct {
	// Branch is a branch name without refs/heads/ ("main").
	Branch string
	// Tag is a tag name without refs/tags/ ("v1.2.0").
	Tag string
	// SemVer is a Masterminds semver constraint (">=1.0.0 <2.0.0"); the
	// highest tag that parses as a version and matches is used.
	SemVer string
	// Commit is a full 40-hex commit SHA-1. With Branch also set, only that
	// branch is fetched to find it and the revision is labelled with the
	// branch; that the branch contains the commit is not checked.
	Commit string
	// Name is a reference name: a full one ("refs/pull/7/head") or a short
	// one resolved as git does (refs/<n>, refs/tags/<n>, refs/heads/<n>).
	Name string
}

var hexSHA1 = regexp.MustCompile(`^[0-9a-f]{40}$`)

// ParseRef parses the --ref syntax:
//
//	""                     remote HEAD (default branch)
//	main, v1.2.0           short name: refs/<n>, then refs/tags/<n>, then refs/heads/<n>
//	refs/heads/x           full reference name
//	branch:main            branch
//	tag:v1.2.0             tag
//	semver:>=1.0 <2        highest tag matching the range
//	sha1:<hex>, <hex>      exact commit (40 hex digits)
//	main@sha1:<hex>        exact commit on branch main (a Snapshot.Revision)
//
// Prefixes are case-sensitive; whitespace around s is ignored.
func ParseRef(s string) Reference {
	s = strings.TrimSpace(s)
	if name, hash, ok := strings.Cut(s, "@sha1:"); ok {
		ref := Reference{Commit: strings.ToLower(hash)}
		switch {
		case strings.HasPrefix(name, "refs/heads/"):
			ref.Branch = strings.TrimPrefix(name, "refs/heads/")
		case strings.HasPrefix(name, "refs/"):
			// the commit alone pins it; other refs cannot be fetched by name safely
		case name != "" && !strings.Contains(name, ":"):
			ref.Branch = name
		}
		return ref
	}
	for _, p := range []struct {
		prefix string
		set    func(*Reference, string)
	}{
		{"sha1:", func(r *Reference, v string) { r.Commit = strings.ToLower(v) }},
		{"branch:", func(r *Reference, v string) { r.Branch = v }},
		{"tag:", func(r *Reference, v string) { r.Tag = v }},
		{"semver:", func(r *Reference, v string) { r.SemVer = v }},
	} {
		if v, ok := strings.CutPrefix(s, p.prefix); ok {
			var r Reference
			p.set(&r, strings.TrimSpace(v))
			return r
		}
	}
	if hexSHA1.MatchString(strings.ToLower(s)) {
		return Reference{Commit: strings.ToLower(s)}
	}
	if s == "" {
		return Reference{}
	}
	return Reference{Name: s}
}

// String renders r in the ParseRef syntax (the field that wins only).
func (r Reference) String() string {
	switch {
	case r.Commit != "" && r.Branch != "":
		return r.Branch + "@sha1:" + r.Commit
	case r.Commit != "":
		return "sha1:" + r.Commit
	case r.Name != "":
		return r.Name
	case r.Tag != "":
		return "tag:" + r.Tag
	case r.SemVer != "":
		return "semver:" + r.SemVer
	case r.Branch != "":
		return "branch:" + r.Branch
	}
	return "HEAD"
}

// validate checks what can be checked without the remote.
func (r Reference) validate() error {
	if r.Commit != "" && !hexSHA1.MatchString(r.Commit) {
		return fmt.Errorf("commit %q is not a full 40-hex SHA-1", r.Commit)
	}
	if r.Commit == "" && r.Name == "" && r.Tag == "" && r.SemVer != "" {
		if _, err := semver.NewConstraint(r.SemVer); err != nil {
			return fmt.Errorf("invalid semver range %q: %w", r.SemVer, err)
		}
	}
	return nil
}

// target is a Reference resolved against the remote's advertised refs.
type target struct {
	// remoteRef is the reference to fetch; empty means "all branches and
	// tags" (a bare commit, which no ref names).
	remoteRef plumbing.ReferenceName
	// label prefixes the revision ("main", "v1.2.0"); empty for a bare commit.
	label string
	// hash is the commit the remote advertises (peeled for annotated tags);
	// zero when only the fetch can tell (a bare commit is set instead).
	hash plumbing.Hash
	// pinned is set when hash comes from the user (Reference.Commit): the
	// fetched ref only has to contain it.
	pinned bool
}

// revision formats the Flux-style revision of commit under t.
func (t target) revision(commit plumbing.Hash) string {
	if t.label == "" {
		return "sha1:" + commit.String()
	}
	return t.label + "@sha1:" + commit.String()
}

// resolve picks the remote reference that r selects among refs, the result of
// an ls-remote with peeled tags appended.
func resolve(r Reference, refs []*plumbing.Reference) (target, error) {
	byName := make(map[plumbing.ReferenceName]*plumbing.Reference, len(refs))
	for _, ref := range refs {
		byName[ref.Name()] = ref
	}
	// lookup returns the commit a ref points at, following HEAD's symref
	// and preferring the peeled value of an annotated tag.
	lookup := func(name plumbing.ReferenceName) (plumbing.ReferenceName, plumbing.Hash, bool) {
		ref, ok := byName[name]
		if !ok {
			return "", plumbing.ZeroHash, false
		}
		if ref.Type() == plumbing.SymbolicReference {
			return lookupTarget(byName, ref.Target())
		}
		if peeled, ok := byName[name+"^{}"]; ok {
			return name, peeled.Hash(), true
		}
		return name, ref.Hash(), true
	}
	switch {
	case r.Commit != "":
		t := target{hash: plumbing.NewHash(r.Commit), pinned: true}
		if r.Branch != "" {
			t.remoteRef = plumbing.NewBranchReferenceName(r.Branch)
			t.label = r.Branch
			if _, ok := byName[t.remoteRef]; !ok {
				return target{}, fmt.Errorf("branch %q not found", r.Branch)
			}
		}
		return t, nil
	case r.Name != "":
		candidates := []plumbing.ReferenceName{plumbing.ReferenceName(r.Name)}
		if !strings.HasPrefix(r.Name, "refs/") && r.Name != "HEAD" {
			candidates = append(candidates,
				plumbing.ReferenceName("refs/"+r.Name),
				plumbing.NewTagReferenceName(r.Name),
				plumbing.NewBranchReferenceName(r.Name))
		}
		for _, c := range candidates {
			if name, hash, ok := lookup(c); ok {
				return target{remoteRef: name, label: r.Name, hash: hash}, nil
			}
		}
		return target{}, fmt.Errorf("reference %q not found", r.Name)
	case r.Tag != "":
		name, hash, ok := lookup(plumbing.NewTagReferenceName(r.Tag))
		if !ok {
			return target{}, fmt.Errorf("tag %q not found", r.Tag)
		}
		return target{remoteRef: name, label: r.Tag, hash: hash}, nil
	case r.SemVer != "":
		tag, err := highestTag(r.SemVer, refs)
		if err != nil {
			return target{}, err
		}
		name, hash, _ := lookup(plumbing.NewTagReferenceName(tag))
		return target{remoteRef: name, label: tag, hash: hash}, nil
	case r.Branch != "":
		name, hash, ok := lookup(plumbing.NewBranchReferenceName(r.Branch))
		if !ok {
			return target{}, fmt.Errorf("branch %q not found", r.Branch)
		}
		return target{remoteRef: name, label: r.Branch, hash: hash}, nil
	}
	name, hash, ok := lookup(plumbing.HEAD)
	if !ok {
		return target{}, fmt.Errorf("remote has no HEAD; set a branch, tag or ref")
	}
	return target{remoteRef: name, label: name.Short(), hash: hash}, nil
}

// lookupTarget resolves the target of a symbolic reference (HEAD).
func lookupTarget(byName map[plumbing.ReferenceName]*plumbing.Reference, name plumbing.ReferenceName) (plumbing.ReferenceName, plumbing.Hash, bool) {
	ref, ok := byName[name]
	if !ok || ref.Type() != plumbing.HashReference {
		return "", plumbing.ZeroHash, false
	}
	return name, ref.Hash(), true
}

// highestTag returns the name of the highest tag whose version matches the
// constraint.
func highestTag(constraint string, refs []*plumbing.Reference) (string, error) {
	c, err := semver.NewConstraint(constraint)
	if err != nil {
		return "", fmt.Errorf("invalid semver range %q: %w", constraint, err)
	}
	type tagged struct {
		name string
		v    *semver.Version
	}
	var matches []tagged
	for _, ref := range refs {
		if !ref.Name().IsTag() || strings.HasSuffix(ref.Name().String(), "^{}") {
			continue
		}
		name := ref.Name().Short()
		v, err := semver.NewVersion(name)
		if err != nil || !c.Check(v) {
			continue
		}
		matches = append(matches, tagged{name, v})
	}
	if len(matches) == 0 {
		return "", fmt.Errorf("no tag matches semver range %q", constraint)
	}
	// highest version first; equal versions (v1.0.0 and 1.0.0) by name
	sort.Slice(matches, func(i, j int) bool {
		if cmp := matches[i].v.Compare(matches[j].v); cmp != 0 {
			return cmp > 0
		}
		return matches[i].name > matches[j].name
	})
	return matches[0].name, nil
}

// observedHash extracts the commit from a revision ("main@sha1:<hex>",
// "sha1:<hex>") or a bare hex SHA-1; it returns the zero hash otherwise.
func observedHash(revision string) plumbing.Hash {
	if i := strings.LastIndex(revision, "sha1:"); i >= 0 {
		revision = revision[i+len("sha1:"):]
	}
	revision = strings.ToLower(strings.TrimSpace(revision))
	if !hexSHA1.MatchString(revision) {
		return plumbing.ZeroHash
	}
	return plumbing.NewHash(revision)
}
