package kube

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
)

// Helm's Secret storage driver keeps one Secret per release revision, named
// sh.helm.release.v1.<name>.v<version>, whose data["release"] is the
// release as JSON, gzipped, then base64-encoded (helm's
// pkg/storage/driver/util.go encodeRelease). Drift needs only the manifest;
// decoding the whole release would allocate the chart's files and the
// values, which in DIGIT carry the whole environment file.

// storageSecretName is the name of the Secret Helm stores a revision in.
func storageSecretName(name string, version int) string {
	return "sh.helm.release.v1." + name + ".v" + strconv.Itoa(version)
}

// ReadStoredManifest GETs the storage Secret of one release revision and
// decodes its manifest only.
func ReadStoredManifest(ctx context.Context, secrets corev1client.SecretInterface, name string, version int) (string, error) {
	s, err := secrets.Get(ctx, storageSecretName(name, version), metav1.GetOptions{})
	if err != nil {
		return "", fmt.Errorf("unable to read release %q revision %d: %w", name, version, err)
	}
	return storedManifest(s, name, version)
}

// storedManifest decodes the manifest of a storage Secret.
func storedManifest(s *corev1.Secret, name string, version int) (string, error) {
	m, err := decodeManifest(s.Data["release"])
	if err != nil {
		return "", fmt.Errorf("unable to decode release %q revision %d: %w", name, version, err)
	}
	return m, nil
}

// gzipMagic starts a gzip stream (helm's util.go magicGzip); releases
// stored before Helm compressed them lack it.
var gzipMagic = []byte{0x1f, 0x8b, 0x08}

// decodeManifest decodes the manifest field of a release as Helm encodes it
// in data["release"], streaming: base64, then gzip when the gzip magic is
// there, then the JSON scanned for the top-level manifest field (releaseField:
// the chart and values are skipped, never buffered).
func decodeManifest(data []byte) (string, error) {
	r := bufio.NewReader(base64.NewDecoder(base64.StdEncoding, bytes.NewReader(data)))
	var in io.Reader = r
	if head, err := r.Peek(len(gzipMagic)); err == nil && bytes.Equal(head, gzipMagic) {
		z, err := gzip.NewReader(r)
		if err != nil {
			return "", err
		}
		defer z.Close()
		in = z
	}
	m, _, err := releaseField(in, "manifest")
	return m, err
}

// ListManifestsMin is the number of unknown revisions in one namespace from
// which a LIST of its storage Secrets replaces one GET per revision.
const ListManifestsMin = 8

// listManifestsPage bounds the storage Secrets one LIST response holds (each
// carries a gzipped chart and values).
const listManifestsPage = 50

// ListStoredManifests lists the storage Secrets of the deployed revisions of
// a namespace, a page at a time, and decodes the manifests of the revisions
// in want (release name → version). Revisions it does not find (not
// labelled deployed) are not in the result.
func ListStoredManifests(ctx context.Context, secrets corev1client.SecretInterface, want map[string]int) (map[string]string, error) {
	out := map[string]string{}
	opts := metav1.ListOptions{LabelSelector: "owner=helm,status=deployed", Limit: listManifestsPage}
	for {
		list, err := secrets.List(ctx, opts)
		if err != nil {
			return out, fmt.Errorf("unable to list Helm releases: %w", err)
		}
		for i := range list.Items {
			s := &list.Items[i]
			name := s.Labels["name"]
			v, ok := want[name]
			if !ok || s.Labels["version"] != strconv.Itoa(v) || s.Name != storageSecretName(name, v) {
				continue
			}
			m, err := storedManifest(s, name, v)
			if err != nil {
				return out, err
			}
			out[name] = m
		}
		if opts.Continue = list.Continue; opts.Continue == "" {
			return out, nil
		}
	}
}
