package reconciler_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/digitops/digitops/internal/testenv"
	"github.com/digitops/digitops/reconciler/kube"
)

// storageReleases is how many deployed releases the storage benchmark
// stores in one namespace: DIGIT's size.
const storageReleases = 500

// storedRelease is data["release"] of a DIGIT-like release: a 5 KB manifest
// and ~150 KB of values (the environment file every release receives).
func storedRelease(b *testing.B, name string) []byte {
	b.Helper()
	var values strings.Builder
	for i := 0; values.Len() < 150<<10; i++ {
		fmt.Fprintf(&values, "service-%d:\n  image: egovio/service-%d:v1.%d.0\n  db-host: postgres-%d.egov.svc\n", i, i, i%7, i%3)
	}
	rel := map[string]any{
		"name":     name,
		"config":   map[string]any{"env": values.String()},
		"manifest": strings.Repeat("---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: "+name+"\n", 60),
		"version":  1,
	}
	js, err := json.Marshal(rel)
	if err != nil {
		b.Fatal(err)
	}
	var gz bytes.Buffer
	w, _ := gzip.NewWriterLevel(&gz, gzip.BestCompression)
	_, _ = w.Write(js)
	_ = w.Close()
	return []byte(base64.StdEncoding.EncodeToString(gz.Bytes()))
}

// BenchmarkStorage_getVsList reads the manifests of 500 deployed releases
// from their storage Secrets: one GET each, 8 at a time (drift's workers),
// against paginated LISTs of the namespace.
func BenchmarkStorage_getVsList(b *testing.B) {
	tenv := testenv.ForTest(b, testenv.Options{})
	ctx := context.Background()
	cfg := rest.CopyConfig(tenv.Config)
	cfg.QPS, cfg.Burst = 100, 300 // as NewCluster sets them
	cs := kubernetes.NewForConfigOrDie(cfg)
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "egov"}}, metav1.CreateOptions{}); err != nil {
		b.Fatal(err)
	}
	secrets := cs.CoreV1().Secrets("egov")
	want := map[string]int{}
	for i := range storageReleases {
		name := "svc-" + strconv.Itoa(i)
		want[name] = 1
		s := &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: "sh.helm.release.v1." + name + ".v1", Labels: map[string]string{"owner": "helm", "name": name, "status": "deployed", "version": "1"}},
			Type:       "helm.sh/release.v1",
			Data:       map[string][]byte{"release": storedRelease(b, name)},
		}
		if _, err := secrets.Create(ctx, s, metav1.CreateOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("get", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			names := make(chan string)
			var wg sync.WaitGroup
			for range 8 {
				wg.Go(func() {
					for n := range names {
						if _, err := kube.ReadStoredManifest(ctx, secrets, n, 1); err != nil {
							b.Error(err)
						}
					}
				})
			}
			for n := range want {
				names <- n
			}
			close(names)
			wg.Wait()
		}
		b.ReportMetric(storageReleases, "requests/op")
	})
	b.Run("list", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			got, err := kube.ListStoredManifests(ctx, secrets, want)
			if err != nil || len(got) != storageReleases {
				b.Fatalf("listed %d manifests: %v", len(got), err)
			}
		}
		b.ReportMetric(storageReleases/50, "requests/op")
	})
}
