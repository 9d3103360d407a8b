/*
Package git fetches the revision of a Git repository that digitops deploys.

It turns a repository URL and a reference into a Snapshot: a checked-out
work tree plus the revision that names it ("main@sha1:<hex>"). It is built
on go-git and never runs the git binary.

# References

A Reference selects a branch, a tag, the highest tag matching a semver range,
an exact commit, or a reference by name. When several are set the most precise
wins, as in Flux: Commit > Name > Tag > SemVer > Branch. The zero Reference
follows the remote's default branch. ParseRef reads the --ref syntax:

	main               short name (refs/<n>, refs/tags/<n>, refs/heads/<n>)
	refs/pull/7/head   full reference name
	branch:main        tag:v1.2.0        semver:>=1.0 <2
	sha1:<hex>         main@sha1:<hex> (a Snapshot.Revision pins that commit)

Revisions are "<branch or tag or name>@sha1:<hex>", or "sha1:<hex>" for a
bare commit.

# Polling

Fetch takes the last revision the caller observed. When the remote reference
still points at it, Fetch lists the remote's references (one ls-remote round
trip), fetches no object and returns changed=false. Otherwise it fetches the
commit with depth 1 into a bare object store under Options.CacheDir
(<CacheDir>/<sha256(url)[:16]>/repo), incrementally, and writes the commit's
files to trees/<sha1>/, renamed into place so that a reader never sees a
partial tree. The cache survives restarts: a new Client reloads the last good
snapshot and reuses the objects it has. A cache that does not open, or whose
objects cannot produce the work tree, is re-cloned into a fresh directory,
never trusted.

A failed fetch leaves the last good snapshot in place; Fetch returns it with
the error, and LastGood reports it at any time.

# Credentials

Auth carries HTTP basic or bearer credentials, or an SSH private key
(optionally passphrase-protected) with known_hosts content. An SSH host that
is not in known_hosts (ErrUnknownHostKey) or presents another key
(ErrHostKeyMismatch) is refused; no known_hosts at all is refused by New
(ErrNoKnownHosts). AuthFromDir reads a mounted Secret (Flux key names),
AuthFromEnv the DIGITOPS_GIT_* variables.

Every error of this package is a *SanitizedError: user information and query
strings are stripped from every URL in its text and the configured secrets
are masked. errors.Is still sees through it, errors.As does not (on purpose).

# Verification and path filters

With Options.VerifyKeyring (an armored OpenPGP keyring) a commit that is
unsigned (ErrUnsigned) or not signed by one of the keys (ErrUntrustedSigner)
is refused and never checked out. SSH commit signatures cannot be verified
with go-git v5 and are refused (ErrSSHSigUnsupported). Tag signatures are not
checked.

With Options.Paths, Fetch reports changed=false for a new commit that touches
none of the paths compared with the last observed commit. When that commit is
not in the shallow cache, the change is assumed.

# URLs

https://, http://, ssh://, scp-like user@host:path, file:// and local paths
to a repository (bare or not) are accepted. Local repositories are served
in-process. A local directory that is not a repository fails New with
ErrNotGitRepository; callers that also accept plain directories test for it.

# Committing

A Worktree is the caller's own clone, for set-image: OpenWorktree,
CheckClean (ErrDirtyWorktree), Commit (stages the given files and commits
them as the repository's Git identity, or GIT_AUTHOR_NAME and
GIT_AUTHOR_EMAIL) and Push (the checked-out branch, with an Auth;
ErrNoRemote, ErrDetachedHead, ErrRemoteMoved). Its errors say what failed;
the caller adds what its user should do next.

# Example

	c, err := git.New(git.Options{
		URL:      "https://github.com/egovernments/DIGIT-DevOps",
		Ref:      git.ParseRef("semver:>=2.9.0"),
		CacheDir: "/var/cache/digitops/git",
		Auth:     git.Auth{BearerToken: token},
		Timeout:  time.Minute,
	})
	if err != nil {
		return err
	}
	snap, changed, err := c.Fetch(ctx, lastRevision)
	if err != nil {
		return err // snap is still the last good snapshot, if any
	}
	if changed {
		render(snap.Dir, snap.Revision)
	}

A Client serves one URL and reference; its methods are safe for concurrent
use. Two processes must not share a cache directory for the same URL.
*/
package git
