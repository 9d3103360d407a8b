package git

import (
	"sync"

	gogit "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing/storer"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/plumbing/transport/client"
	gitserver "github.com/go-git/go-git/v5/plumbing/transport/server"
)

// installLocal registers localScheme with go-git once. go-git's own file://
// transport runs git-upload-pack from the git binary; this one serves the
// repository in-process with go-git's server, so digitops never needs git.
// A private scheme keeps go-git's global "file" transport untouched for
// other users in the process.
var installLocal = sync.OnceFunc(func() {
	client.InstallProtocol(localScheme, gitserver.NewClient(localLoader{}))
})

// localLoader opens a local repository, bare or with a work tree.
type localLoader struct{}

// Load implements gitserver.Loader.
func (localLoader) Load(ep *transport.Endpoint) (storer.Storer, error) {
	repo, err := gogit.PlainOpenWithOptions(ep.Path, &gogit.PlainOpenOptions{EnableDotGitCommonDir: true})
	if err != nil {
		return nil, transport.ErrRepositoryNotFound
	}
	return repo.Storer, nil
}
