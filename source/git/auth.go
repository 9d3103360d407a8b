package git

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	gitssh "github.com/go-git/go-git/v5/plumbing/transport/ssh"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// Auth holds the credentials for one repository. Fill it directly or with
// AuthFromMap, AuthFromDir or AuthFromEnv. Nothing in it is ever printed:
// every error of this package masks these values.
type Auth struct {
	// Username and Password are HTTP(S) basic-auth credentials. Password may
	// be a personal access token.
	Username, Password string
	// BearerToken is sent as "Authorization: Bearer" over HTTP(S); it wins
	// over Username/Password.
	BearerToken string
	// SSHPrivateKey is a PEM or OpenSSH private key for ssh:// and
	// user@host:path URLs.
	SSHPrivateKey []byte
	// SSHPassphrase decrypts SSHPrivateKey when it is encrypted.
	SSHPassphrase []byte
	// KnownHosts is the content of a known_hosts file. SSH connections to a
	// host whose key is not listed, or listed with another key, are refused.
	KnownHosts []byte
	// InsecureIgnoreHostKey accepts any SSH host key. For tests only.
	InsecureIgnoreHostKey bool
}

// Secret keys read by AuthFromMap and AuthFromDir. They are those of a Flux
// GitRepository Secret, so the same Kubernetes Secret serves both.
const (
	KeyUsername    = "username"
	KeyPassword    = "password" // also the SSH key passphrase when KeyIdentity is set
	KeyBearerToken = "bearerToken"
	KeyIdentity    = "identity"
	KeyKnownHosts  = "known_hosts"
)

// Environment variables read by AuthFromEnv. The *_FILE variables name files.
const (
	EnvUsername       = "DIGITOPS_GIT_USERNAME"
	EnvPassword       = "DIGITOPS_GIT_PASSWORD"
	EnvBearerToken    = "DIGITOPS_GIT_BEARER_TOKEN"
	EnvSSHKeyFile     = "DIGITOPS_GIT_SSH_KEY_FILE"
	EnvSSHPassphrase  = "DIGITOPS_GIT_SSH_PASSPHRASE"
	EnvKnownHostsFile = "DIGITOPS_GIT_KNOWN_HOSTS_FILE"
)

// Errors reported (wrapped) when SSH host key verification fails. Test them
// with errors.Is.
var (
	ErrUnknownHostKey  = errors.New("host key is not in known_hosts")
	ErrHostKeyMismatch = errors.New("host key does not match known_hosts (possible man-in-the-middle)")
	ErrNoKnownHosts    = errors.New("no known_hosts configured for SSH; set Auth.KnownHosts (or InsecureIgnoreHostKey for tests)")
)

// AuthFromMap reads credentials from Secret-style data (keys KeyUsername,
// KeyPassword, KeyBearerToken, KeyIdentity, KeyKnownHosts). With an
// identity, the password is the key's passphrase, as in Flux.
func AuthFromMap(data map[string][]byte) Auth {
	a := Auth{
		BearerToken: strings.TrimSpace(string(data[KeyBearerToken])),
		KnownHosts:  data[KeyKnownHosts],
	}
	if id := data[KeyIdentity]; len(id) > 0 {
		a.SSHPrivateKey = id
		a.SSHPassphrase = data[KeyPassword]
		return a
	}
	a.Username = strings.TrimSpace(string(data[KeyUsername]))
	a.Password = strings.TrimRight(string(data[KeyPassword]), "\r\n")
	return a
}

// AuthFromDir reads credentials from files named after the Secret keys in
// dir, such as a mounted Kubernetes Secret. Missing files are skipped.
func AuthFromDir(dir string) (Auth, error) {
	data := map[string][]byte{}
	for _, key := range []string{KeyUsername, KeyPassword, KeyBearerToken, KeyIdentity, KeyKnownHosts} {
		b, err := os.ReadFile(filepath.Join(dir, key))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return Auth{}, fmt.Errorf("unable to read credential %q: %w", key, err)
		}
		data[key] = b
	}
	return AuthFromMap(data), nil
}

// AuthFromEnv reads credentials from the Env* variables through lookup
// (os.LookupEnv when nil).
func AuthFromEnv(lookup func(string) (string, bool)) (Auth, error) {
	if lookup == nil {
		lookup = os.LookupEnv
	}
	get := func(k string) string { v, _ := lookup(k); return v }
	a := Auth{
		Username:      get(EnvUsername),
		Password:      get(EnvPassword),
		BearerToken:   get(EnvBearerToken),
		SSHPassphrase: []byte(get(EnvSSHPassphrase)),
	}
	for env, dst := range map[string]*[]byte{EnvSSHKeyFile: &a.SSHPrivateKey, EnvKnownHostsFile: &a.KnownHosts} {
		path := get(env)
		if path == "" {
			continue
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return Auth{}, fmt.Errorf("unable to read %s: %w", env, err)
		}
		*dst = b
	}
	return a, nil
}

// secrets lists the values to mask in messages.
func (a Auth) secrets() []string {
	return []string{a.Password, a.BearerToken, string(a.SSHPassphrase)}
}

// transportAuth builds the go-git auth method for ep; nil means anonymous
// (or the credentials carried by an HTTP URL).
func (a Auth) transportAuth(ep endpoint, timeout time.Duration) (transport.AuthMethod, error) {
	switch {
	case ep.local:
		return nil, nil
	case ep.ssh:
		return a.sshAuth(ep, timeout)
	case a.BearerToken != "":
		return &githttp.TokenAuth{Token: a.BearerToken}, nil
	case a.Username != "" || a.Password != "":
		user := a.Username
		if user == "" {
			user = "git" // most forges ignore the user name when given a token
		}
		return &githttp.BasicAuth{Username: user, Password: a.Password}, nil
	}
	return nil, nil
}

// sshAuth builds public-key auth with known_hosts verification.
func (a Auth) sshAuth(ep endpoint, timeout time.Duration) (transport.AuthMethod, error) {
	if len(a.SSHPrivateKey) == 0 {
		return nil, errors.New("an SSH URL needs Auth.SSHPrivateKey")
	}
	user := ep.user
	if user == "" {
		user = "git"
	}
	keys, err := gitssh.NewPublicKeys(user, a.SSHPrivateKey, string(a.SSHPassphrase))
	if err != nil {
		// ssh's parse errors do not echo the key; keep only their text
		return nil, fmt.Errorf("unable to parse SSH private key: %s", err.Error())
	}
	auth := &sshAuth{PublicKeys: keys, timeout: timeout}
	if a.InsecureIgnoreHostKey {
		keys.HostKeyCallback = ssh.InsecureIgnoreHostKey()
		return auth, nil
	}
	if len(a.KnownHosts) == 0 {
		return nil, ErrNoKnownHosts
	}
	cb, algos, err := knownHostsCallback(a.KnownHosts)
	if err != nil {
		return nil, err
	}
	keys.HostKeyCallback = cb
	if tep, err := transport.NewEndpoint(ep.url); err == nil {
		port := tep.Port
		if port == 0 {
			port = 22
		}
		auth.hostKeyAlgorithms = preferred(algos(net.JoinHostPort(tep.Host, strconv.Itoa(port))))
	}
	return auth, nil
}

// sshAuth adds a dial timeout and host key algorithms to go-git's PublicKeys:
// go-git dials SSH without the caller's context, so the timeout is what
// bounds the connection phase.
type sshAuth struct {
	*gitssh.PublicKeys
	timeout time.Duration
	// hostKeyAlgorithms puts the key types known_hosts lists for the host
	// first, so a host with several keys shows the one we can check.
	hostKeyAlgorithms []string
}

// ClientConfig implements go-git's ssh.AuthMethod.
func (s *sshAuth) ClientConfig() (*ssh.ClientConfig, error) {
	cfg, err := s.PublicKeys.ClientConfig()
	if err != nil {
		return nil, err
	}
	cfg.Timeout = s.timeout
	if len(s.hostKeyAlgorithms) > 0 {
		cfg.HostKeyAlgorithms = s.hostKeyAlgorithms
	}
	return cfg, nil
}

// preferred returns known followed by the other supported host key
// algorithms: a preference, not a restriction, so that a server offering
// only another key type is refused by the callback with a clear
// "does not match" error rather than a negotiation failure.
func preferred(known []string) []string {
	if len(known) == 0 {
		return nil
	}
	out := append([]string(nil), known...)
	for _, a := range ssh.SupportedAlgorithms().HostKeys {
		if !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	return out
}

// knownHostsCallback turns known_hosts content into a host key callback whose
// errors say plainly whether the host is unknown or its key changed.
func knownHostsCallback(content []byte) (ssh.HostKeyCallback, func(string) []string, error) {
	f, err := os.CreateTemp("", "digitops-known-hosts-")
	if err != nil {
		return nil, nil, err
	}
	defer os.Remove(f.Name())
	_, werr := f.Write(content)
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		return nil, nil, werr
	}
	db, err := gitssh.NewKnownHostsDb(f.Name())
	if err != nil {
		return nil, nil, fmt.Errorf("invalid known_hosts: %w", err)
	}
	inner := db.HostKeyCallback()
	cb := func(hostname string, remote net.Addr, key ssh.PublicKey) error {
		err := inner(hostname, remote, key)
		var keyErr *knownhosts.KeyError
		switch {
		case err == nil:
			return nil
		case errors.As(err, &keyErr) && len(keyErr.Want) == 0:
			return fmt.Errorf("%w: %s (%s %s)", ErrUnknownHostKey, hostname, key.Type(), ssh.FingerprintSHA256(key))
		case errors.As(err, &keyErr):
			return fmt.Errorf("%w: %s presented %s %s", ErrHostKeyMismatch, hostname, key.Type(), ssh.FingerprintSHA256(key))
		}
		return err
	}
	return cb, db.HostKeyAlgorithms, nil
}

// Method returns the go-git auth method for pushing to or pulling from
// rawURL with these credentials (nil for anonymous or local access).
func (a Auth) Method(rawURL string) (transport.AuthMethod, error) {
	ep, err := parseEndpoint(rawURL)
	if err != nil {
		return nil, err
	}
	m, err := a.transportAuth(ep, 30*time.Second)
	return m, sanitizeError(err, append(a.secrets(), ep.secrets()...))
}
