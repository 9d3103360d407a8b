package git_test

import (
	"fmt"

	"github.com/digitops/digitops/source/git"
)

func ExampleParseRef() {
	for _, s := range []string{"", "main", "tag:v1.2.0", "semver:>=2.9 <3", "sha1:0123456789abcdef0123456789abcdef01234567", "main@sha1:0123456789abcdef0123456789abcdef01234567"} {
		r := git.ParseRef(s)
		fmt.Printf("%-20q branch=%q tag=%q semver=%q commit=%.7s name=%q\n", s, r.Branch, r.Tag, r.SemVer, r.Commit, r.Name)
	}
	// Output:
	// ""                   branch="" tag="" semver="" commit= name=""
	// "main"               branch="" tag="" semver="" commit= name="main"
	// "tag:v1.2.0"         branch="" tag="v1.2.0" semver="" commit= name=""
	// "semver:>=2.9 <3"    branch="" tag="" semver=">=2.9 <3" commit= name=""
	// "sha1:0123456789abcdef0123456789abcdef01234567" branch="" tag="" semver="" commit=0123456 name=""
	// "main@sha1:0123456789abcdef0123456789abcdef01234567" branch="main" tag="" semver="" commit=0123456 name=""
}

func ExampleSanitizeURL() {
	fmt.Println(git.SanitizeURL("https://x-access-token:ghp_secret@github.com/org/repo.git?token=abc"))
	// Output: https://github.com/org/repo.git
}
