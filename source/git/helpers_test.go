package git

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/fluxcd/pkg/gittestserver"
	"github.com/go-git/go-billy/v5/memfs"
	"github.com/go-git/go-billy/v5/osfs"
	gogit "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/storage/filesystem"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// upstream is a repository the test writes to: its objects live in dir (the
// directory a server serves), its work tree in memory.
type upstream struct {
	t    testing.TB
	repo *gogit.Repository
	wt   *gogit.Worktree
	dir  string
	when time.Time
}

func newUpstream(t testing.TB, dir string) *upstream {
	t.Helper()
	st := filesystem.NewStorage(osfs.New(dir), cache.NewObjectLRUDefault())
	repo, err := gogit.InitWithOptions(st, memfs.New(), gogit.InitOptions{DefaultBranch: plumbing.Main})
	if err != nil {
		t.Fatal(err)
	}
	wt, err := repo.Worktree()
	if err != nil {
		t.Fatal(err)
	}
	return &upstream{t: t, repo: repo, wt: wt, dir: dir, when: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)}
}

// commit writes files (an empty content deletes the file) and commits them,
// signed by signer when not nil. Each commit is one minute after the last.
func (u *upstream) commit(msg string, files map[string]string, signer *openpgp.Entity) plumbing.Hash {
	u.t.Helper()
	fs := u.wt.Filesystem
	for name, content := range files {
		if content == "" {
			if _, err := u.wt.Remove(name); err != nil {
				u.t.Fatal(err)
			}
			continue
		}
		if err := fs.MkdirAll(filepath.Dir(name), 0o755); err != nil {
			u.t.Fatal(err)
		}
		f, err := fs.Create(name)
		if err != nil {
			u.t.Fatal(err)
		}
		if _, err := f.Write([]byte(content)); err != nil {
			u.t.Fatal(err)
		}
		f.Close()
		if _, err := u.wt.Add(name); err != nil {
			u.t.Fatal(err)
		}
	}
	u.when = u.when.Add(time.Minute)
	sig := &object.Signature{Name: "test", Email: "test@example.com", When: u.when}
	h, err := u.wt.Commit(msg, &gogit.CommitOptions{Author: sig, Committer: sig, SignKey: signer, AllowEmptyCommits: true})
	if err != nil {
		u.t.Fatal(err)
	}
	return h
}

// tag creates a tag on h, annotated when annotated is true.
func (u *upstream) tag(name string, h plumbing.Hash, annotated bool) {
	u.t.Helper()
	var opts *gogit.CreateTagOptions
	if annotated {
		opts = &gogit.CreateTagOptions{Message: name, Tagger: &object.Signature{Name: "t", Email: "t@example.com", When: u.when}}
	}
	if _, err := u.repo.CreateTag(name, h, opts); err != nil {
		u.t.Fatal(err)
	}
}

// setBranch points branch at h, as a force push would.
func (u *upstream) setBranch(branch string, h plumbing.Hash) {
	u.t.Helper()
	ref := plumbing.NewHashReference(plumbing.NewBranchReferenceName(branch), h)
	if err := u.repo.Storer.SetReference(ref); err != nil {
		u.t.Fatal(err)
	}
	if err := u.wt.Reset(&gogit.ResetOptions{Commit: h, Mode: gogit.HardReset}); err != nil {
		u.t.Fatal(err)
	}
}

// checkoutBranch creates branch at HEAD and makes it current.
func (u *upstream) checkoutBranch(branch string) {
	u.t.Helper()
	err := u.wt.Checkout(&gogit.CheckoutOptions{Branch: plumbing.NewBranchReferenceName(branch), Create: true})
	if err != nil {
		u.t.Fatal(err)
	}
}

// server is a gittestserver with request counters.
type server struct {
	*gittestserver.GitServer
	// infoRefs counts ref advertisements (GET .../info/refs).
	infoRefs atomic.Int64
	// uploadPacks counts object negotiations (POST .../git-upload-pack).
	uploadPacks atomic.Int64
	mu          sync.Mutex
	authHeaders []string
}

// startHTTP starts an HTTP git server, with basic auth when user is set.
func startHTTP(t testing.TB, user, password string) *server {
	t.Helper()
	s := &server{GitServer: gittestserver.NewGitServer(t.TempDir())}
	if user != "" {
		s.Auth(user, password)
	}
	s.AddHTTPMiddlewares(func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch {
			case strings.HasSuffix(r.URL.Path, "/info/refs"):
				s.infoRefs.Add(1)
			case r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/git-upload-pack"):
				s.uploadPacks.Add(1)
			}
			s.mu.Lock()
			s.authHeaders = append(s.authHeaders, r.Header.Get("Authorization"))
			s.mu.Unlock()
			next.ServeHTTP(w, r)
		})
	})
	if err := s.StartHTTP(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.StopHTTP)
	return s
}

// repo creates an upstream served at /<name> and returns it with its URL.
func (s *server) repo(t testing.TB, name string) (*upstream, string) {
	t.Helper()
	return newUpstream(t, filepath.Join(s.Root(), name)), s.HTTPAddress() + "/" + name
}

// counts returns (info/refs GETs, upload-pack POSTs) and resets them.
func (s *server) counts() (int64, int64) {
	return s.infoRefs.Swap(0), s.uploadPacks.Swap(0)
}

// startSSH starts an SSH git server; it returns the server, its ssh:// base
// URL and a known_hosts line for its host key.
func startSSH(t *testing.T) (*gittestserver.GitServer, string, []byte) {
	t.Helper()
	keyDir := t.TempDir()
	s := gittestserver.NewGitServer(t.TempDir()).KeyDir(keyDir)
	if err := s.ListenSSH(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = s.StartSSH() }()
	t.Cleanup(func() { _ = s.StopSSH() })
	b, err := os.ReadFile(filepath.Join(keyDir, "gitkit.rsa.pub"))
	if err != nil {
		t.Fatal(err)
	}
	pub, _, _, _, err := ssh.ParseAuthorizedKey(b)
	if err != nil {
		t.Fatal(err)
	}
	base := s.SSHAddress()
	return s, base, knownHostsLine(strings.TrimPrefix(base, "ssh://git@"), pub)
}

// clientKey returns a new ed25519 private key in OpenSSH PEM form, encrypted
// when passphrase is set.
func clientKey(t *testing.T, passphrase string) []byte {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	var block *pem.Block
	if passphrase == "" {
		block, err = ssh.MarshalPrivateKey(priv, "")
	} else {
		block, err = ssh.MarshalPrivateKeyWithPassphrase(priv, "", []byte(passphrase))
	}
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(block)
}

// knownHostsLine renders a known_hosts entry for addr (host:port) and key.
func knownHostsLine(addr string, key ssh.PublicKey) []byte {
	return []byte(knownhosts.Line([]string{knownhosts.Normalize(addr)}, key) + "\n")
}

// pgpEntity returns a new OpenPGP key and its armored public keyring.
func pgpEntity(t *testing.T, name string) (*openpgp.Entity, string) {
	t.Helper()
	e, err := openpgp.NewEntity(name, "", name+"@example.com", nil)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	w, err := armor.Encode(&buf, openpgp.PublicKeyType, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Serialize(w); err != nil {
		t.Fatal(err)
	}
	w.Close()
	return e, buf.String()
}

// newTestClient builds a Client with a fresh cache unless opts has one.
func newTestClient(t *testing.T, opts Options) *Client {
	t.Helper()
	if opts.CacheDir == "" {
		opts.CacheDir = t.TempDir()
	}
	if opts.Timeout == 0 {
		opts.Timeout = 20 * time.Second
	}
	c, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// mustFetch fetches and fails the test on error.
func mustFetch(t *testing.T, c *Client, last string) (Snapshot, bool) {
	t.Helper()
	snap, changed, err := c.Fetch(context.Background(), last)
	if err != nil {
		t.Fatal(err)
	}
	return snap, changed
}

// readFile reads name in a snapshot's work tree.
func readFile(t *testing.T, snap Snapshot, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(snap.Dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
