package kube

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"maps"

	"helm.sh/helm/v3/pkg/release"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
)

// maxStoredRelease bounds a decoded release (Helm's Secret holds at most 1
// MiB compressed; a release compresses well, but not a hundredfold).
const maxStoredRelease = 64 << 20

// StoredRevision is one revision's storage Secret as it was read: its
// values can be decoded from it, and a rewrite of it is conditional on
// the Secret being unchanged since that read.
type StoredRevision struct {
	name    string
	version int
	secret  *corev1.Secret
}

// Version is the revision's number.
func (s *StoredRevision) Version() int { return s.version }

// ReadStoredRevision reads the storage Secret of one revision of a release.
func ReadStoredRevision(ctx context.Context, secrets corev1client.SecretInterface, name string, version int) (*StoredRevision, error) {
	s, err := secrets.Get(ctx, storageSecretName(name, version), metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("unable to read release %q revision %d: %w", name, version, err)
	}
	return &StoredRevision{name: name, version: version, secret: s}, nil
}

// Values decodes the values (Helm's config) the revision was made with.
func (s *StoredRevision) Values() (map[string]any, error) {
	var stored struct {
		Config map[string]any `json:"config"`
	}
	if err := decodeStored(s.secret.Data["release"], &stored); err != nil {
		return nil, fmt.Errorf("unable to decode release %q revision %d: %w", s.name, s.version, err)
	}
	return stored.Config, nil
}

// RewriteStoredRelease changes one stored revision of a release in place
// (no new revision): it reads the storage Secret, then rewrites it as
// RewriteStoredRevision does.
func RewriteStoredRelease(ctx context.Context, secrets corev1client.SecretInterface, name string, version int, edit func(*release.Release) error) error {
	s, err := ReadStoredRevision(ctx, secrets, name, version)
	if err != nil {
		return err
	}
	return RewriteStoredRevision(ctx, secrets, s, edit)
}

// RewriteStoredRevision changes a stored revision read before in place (no
// new revision): it decodes the release as Helm encoded it, lets edit
// change it, then writes it back encoded the same way, with the release's
// labels on the Secret, as Helm's Secret driver does. The write carries
// the resourceVersion of the read: when another writer (a Helm action)
// changed the revision since, it fails and nothing is written. edit must
// not change the revision's name, namespace, version or status. stored
// is not changed.
func RewriteStoredRevision(ctx context.Context, secrets corev1client.SecretInterface, stored *StoredRevision, edit func(*release.Release) error) error {
	name, version := stored.name, stored.version
	s := stored.secret.DeepCopy()
	rel, err := decodeRelease(s.Data["release"])
	if err != nil {
		return fmt.Errorf("unable to decode release %q revision %d: %w", name, version, err)
	}
	if rel.Name != name || rel.Version != version {
		return fmt.Errorf("storage Secret %s holds release %q revision %d", s.Name, rel.Name, rel.Version)
	}
	if err := edit(rel); err != nil {
		return err
	}
	data, err := encodeRelease(rel)
	if err != nil {
		return fmt.Errorf("unable to encode release %q revision %d: %w", name, version, err)
	}
	s.Data["release"] = data
	if s.Labels == nil {
		s.Labels = map[string]string{}
	}
	// Helm's driver: the release's own labels, then its system labels.
	system := map[string]string{"name": s.Labels["name"], "owner": s.Labels["owner"], "status": s.Labels["status"], "version": s.Labels["version"]}
	maps.Copy(s.Labels, rel.Labels)
	maps.Copy(s.Labels, system)
	if _, err := secrets.Update(ctx, s, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("unable to write release %q revision %d: %w", name, version, err)
	}
	return nil
}

// decodeRelease decodes data["release"] of a storage Secret: base64, gzip
// when the magic is there, JSON.
func decodeRelease(data []byte) (*release.Release, error) {
	var rel release.Release
	if err := decodeStored(data, &rel); err != nil {
		return nil, err
	}
	return &rel, nil
}

// decodeStored decodes data["release"] of a storage Secret into v, which
// may hold only the fields the caller reads (the JSON decoder skips the
// others without building them).
func decodeStored(data []byte, v any) error {
	raw, err := io.ReadAll(io.LimitReader(base64.NewDecoder(base64.StdEncoding, bytes.NewReader(data)), maxStoredRelease))
	if err != nil {
		return err
	}
	if bytes.HasPrefix(raw, gzipMagic) {
		z, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			return err
		}
		defer z.Close()
		if raw, err = io.ReadAll(io.LimitReader(z, maxStoredRelease+1)); err != nil {
			return err
		}
		if len(raw) > maxStoredRelease {
			return fmt.Errorf("release over %d bytes decoded", maxStoredRelease)
		}
	}
	return json.Unmarshal(raw, v)
}

// encodeRelease encodes a release as Helm's storage driver does (JSON,
// gzip at best compression, base64), for data["release"].
func encodeRelease(rel *release.Release) ([]byte, error) {
	js, err := json.Marshal(rel)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	z, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	if _, err := z.Write(js); err != nil {
		return nil, err
	}
	if err := z.Close(); err != nil {
		return nil, err
	}
	out := make([]byte, base64.StdEncoding.EncodedLen(buf.Len()))
	base64.StdEncoding.Encode(out, buf.Bytes())
	return out, nil
}
