package git

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"log/slog"
	"net"
	"net/url"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
)

func TestFetch_basicAuth(t *testing.T) {
	s := startHTTP(t, "alice", "correct-horse")
	up, url := s.repo(t, "repo.git")
	up.commit("c1", map[string]string{"a": "1"}, nil)
	tests := []struct {
		name    string
		auth    Auth   // what the client presents
		wantErr string // substring of the error; "" for success
	}{
		{name: "right password", auth: Auth{Username: "alice", Password: "correct-horse"}},
		{name: "wrong password", auth: Auth{Username: "alice", Password: "wrong-battery"}, wantErr: "authentication"},
		{name: "no credentials", auth: Auth{}, wantErr: "authentication required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newTestClient(t, Options{URL: url, Auth: tt.auth})
			_, _, err := c.Fetch(context.Background(), "")
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error = %v, want %q", err, tt.wantErr)
			}
			t.Log(err)
			if strings.Contains(err.Error(), "wrong-battery") || strings.Contains(err.Error(), "correct-horse") {
				t.Errorf("password leaked: %v", err)
			}
		})
	}
}

func TestFetch_bearerToken(t *testing.T) {
	s := startHTTP(t, "", "")
	up, url := s.repo(t, "repo.git")
	up.commit("c1", map[string]string{"a": "1"}, nil)
	c := newTestClient(t, Options{URL: url, Auth: Auth{BearerToken: "tkn-123", Username: "ignored", Password: "ignored"}})
	mustFetch(t, c, "")
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, h := range s.authHeaders {
		if h != "Bearer tkn-123" {
			t.Errorf("Authorization header %q, want the bearer token", h)
		}
	}
}

func TestFetch_credentialInURLNeverInErrors(t *testing.T) {
	const password, token = "s3cretPass", "tok3nValue"
	s := startHTTP(t, "alice", "other-password")
	up, _ := s.repo(t, "repo.git")
	up.commit("c1", map[string]string{"a": "1"}, nil)
	host := strings.TrimPrefix(s.HTTPAddress(), "http://")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedPort := ln.Addr().String()
	ln.Close()
	tests := []struct {
		name string
		url  string // a URL carrying the credentials
		auth Auth   // credentials passed beside the URL
	}{
		{name: "wrong password in URL", url: "http://alice:" + password + "@" + host + "/repo.git"},
		{name: "token in query", url: "http://alice:" + password + "@" + host + "/repo.git?token=" + token},
		{name: "missing repository", url: "http://alice:" + password + "@" + host + "/nope.git?token=" + token},
		{name: "server down", url: "http://alice:" + password + "@" + closedPort + "/repo.git?token=" + token},
		{name: "escaped password", url: "http://alice:" + url.QueryEscape(password+"/?") + "@" + closedPort + "/repo.git"},
		{name: "auth beside URL", url: "http://" + closedPort + "/repo.git", auth: Auth{Password: password, BearerToken: token}},
		{name: "bad branch", url: "http://alice:" + password + "@" + host + "/repo.git?token=" + token},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs bytes.Buffer
			opts := Options{URL: tt.url, Auth: tt.auth, Logger: slog.New(slog.NewTextHandler(&logs, nil))}
			if tt.name == "bad branch" {
				opts.Ref = Reference{Branch: "no-" + password}
			}
			c := newTestClient(t, opts)
			snap, _, err := c.Fetch(context.Background(), "")
			if err == nil {
				t.Fatal("fetch succeeded")
			}
			t.Log(err)
			for _, text := range []string{err.Error(), logs.String(), snap.URL, c.ep.display} {
				if strings.Contains(text, password) || strings.Contains(text, token) || strings.Contains(text, url.QueryEscape(password)) {
					t.Errorf("credential leaked: %s", text)
				}
			}
		})
	}
}

func TestFetch_ssh(t *testing.T) {
	srv, base, knownHosts := startSSH(t)
	up := newUpstream(t, filepath.Join(srv.Root(), "org", "repo.git"))
	h := up.commit("c1", map[string]string{"a": "1"}, nil)
	url := base + "/org/repo.git"
	hostport := strings.TrimPrefix(base, "ssh://git@")
	otherKey := func() ssh.PublicKey {
		pub, _, _ := ed25519.GenerateKey(rand.Reader)
		k, _ := ssh.NewPublicKey(pub)
		return k
	}
	key, encrypted := clientKey(t, ""), clientKey(t, "open sesame")
	tests := []struct {
		name       string
		auth       Auth  // client credentials and host keys
		wantNewErr error // New refuses the configuration
		wantErr    error // Fetch fails with this error
	}{
		{name: "known host", auth: Auth{SSHPrivateKey: key, KnownHosts: knownHosts}},
		{name: "passphrase-protected key", auth: Auth{SSHPrivateKey: encrypted, SSHPassphrase: []byte("open sesame"), KnownHosts: knownHosts}},
		{name: "unknown host", auth: Auth{SSHPrivateKey: key, KnownHosts: knownHostsLine("example.com:22", otherKey())}, wantErr: ErrUnknownHostKey},
		{name: "changed host key", auth: Auth{SSHPrivateKey: key, KnownHosts: knownHostsLine(hostport, otherKey())}, wantErr: ErrHostKeyMismatch},
		{name: "no known_hosts", auth: Auth{SSHPrivateKey: key}, wantNewErr: ErrNoKnownHosts},
		{name: "insecure opt-out", auth: Auth{SSHPrivateKey: key, InsecureIgnoreHostKey: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := New(Options{URL: url, Auth: tt.auth, CacheDir: t.TempDir()})
			if tt.wantNewErr != nil || err != nil {
				if !errors.Is(err, tt.wantNewErr) {
					t.Fatalf("New: %v, want %v", err, tt.wantNewErr)
				}
				return
			}
			snap, _, err := c.Fetch(context.Background(), "")
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("error = %v, want %v", err, tt.wantErr)
				}
				t.Log(err)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if snap.Commit != h.String() {
				t.Errorf("commit %s, want %s", snap.Commit, h)
			}
		})
	}
	if _, err := New(Options{URL: url, CacheDir: t.TempDir(), Auth: Auth{SSHPrivateKey: encrypted, SSHPassphrase: []byte("wrong"), KnownHosts: knownHosts}}); err == nil || strings.Contains(err.Error(), "wrong") {
		t.Errorf("wrong passphrase: %v", err)
	}
}

func TestAuthFromDirAndEnv(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{KeyUsername: "bob\n", KeyPassword: "pw\n", KeyKnownHosts: "kh"}
	for name, content := range files {
		write(t, filepath.Join(dir, name), content)
	}
	got, err := AuthFromDir(dir)
	want := Auth{Username: "bob", Password: "pw", KnownHosts: []byte("kh")}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("AuthFromDir = %+v, %v; want %+v", got, err, want)
	}

	write(t, filepath.Join(dir, KeyIdentity), "KEY")
	got, _ = AuthFromDir(dir)
	want = Auth{SSHPrivateKey: []byte("KEY"), SSHPassphrase: []byte("pw\n"), KnownHosts: []byte("kh")}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("AuthFromDir with identity = %+v; want %+v", got, want)
	}

	env := map[string]string{
		EnvUsername: "u", EnvPassword: "p", EnvBearerToken: "t", EnvSSHPassphrase: "pp",
		EnvSSHKeyFile: filepath.Join(dir, KeyIdentity), EnvKnownHostsFile: filepath.Join(dir, KeyKnownHosts),
	}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	got, err = AuthFromEnv(lookup)
	want = Auth{Username: "u", Password: "p", BearerToken: "t", SSHPassphrase: []byte("pp"), SSHPrivateKey: []byte("KEY"), KnownHosts: []byte("kh")}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("AuthFromEnv = %+v, %v; want %+v", got, err, want)
	}
	env[EnvSSHKeyFile] = filepath.Join(dir, "missing")
	if _, err := AuthFromEnv(lookup); err == nil || !strings.Contains(err.Error(), EnvSSHKeyFile) {
		t.Errorf("missing key file: %v", err)
	}
}
