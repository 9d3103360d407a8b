package git

import (
	"context"
	"errors"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp"
)

func TestFetch_verification(t *testing.T) {
	trusted, keyring := pgpEntity(t, "trusted")
	stranger, _ := pgpEntity(t, "stranger")
	tests := []struct {
		name    string
		signer  *openpgp.Entity // who signs the new commit; nil = unsigned
		wantErr error           // nil when the commit must be accepted
	}{
		{name: "signed by a trusted key", signer: trusted},
		{name: "unsigned", wantErr: ErrUnsigned},
		{name: "signed by another key", signer: stranger, wantErr: ErrUntrustedSigner},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := startHTTP(t, "", "")
			up, url := s.repo(t, "repo.git")
			up.commit("good", map[string]string{"a": "good"}, trusted)
			c := newTestClient(t, Options{URL: url, VerifyKeyring: keyring})
			good, _ := mustFetch(t, c, "")
			if good.Signer == "" {
				t.Error("verified snapshot names no signer")
			}

			up.commit("next", map[string]string{"a": "next"}, tt.signer)
			snap, changed, err := c.Fetch(context.Background(), good.Revision)
			if tt.wantErr == nil {
				if err != nil || !changed || readFile(t, snap, "a") != "next" {
					t.Fatalf("trusted commit refused: %v", err)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("error = %v, want %v", err, tt.wantErr)
			}
			t.Log(err)
			if changed || snap != good {
				t.Errorf("refused commit handed out: %+v", snap)
			}
			// a refusal is not corruption: the next poll refuses again without re-cloning
			s.counts()
			if _, _, err := c.Fetch(context.Background(), good.Revision); !errors.Is(err, tt.wantErr) {
				t.Errorf("second poll: %v", err)
			}
			if refs, packs := s.counts(); refs != 1 || packs != 0 {
				t.Errorf("second poll: %d ref listings, %d upload-packs; want the cached commit re-checked", refs, packs)
			}
			// and a restart does not resurrect it
			restarted := newTestClient(t, Options{URL: url, CacheDir: c.opts.CacheDir, VerifyKeyring: keyring})
			if lg, ok := restarted.LastGood(); !ok || lg.Commit != good.Commit {
				t.Errorf("LastGood after restart = %+v, %v", lg, ok)
			}
		})
	}
}

func TestVerifyCommit_sshSignature(t *testing.T) {
	s := startHTTP(t, "", "")
	up, _ := s.repo(t, "repo.git")
	h := up.commit("c", map[string]string{"a": "1"}, nil)
	commit, err := up.repo.CommitObject(h)
	if err != nil {
		t.Fatal(err)
	}
	commit.PGPSignature = "-----BEGIN SSH SIGNATURE-----\nU1NIU0lH\n-----END SSH SIGNATURE-----\n"
	_, keyring := pgpEntity(t, "k")
	if _, err := verifyCommit(commit, keyring); !errors.Is(err, ErrSSHSigUnsupported) {
		t.Errorf("error = %v, want ErrSSHSigUnsupported", err)
	}
}
