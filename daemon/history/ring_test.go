package history

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// fakeConfigMaps is a namespace's ConfigMaps as the API server keeps
// them: resourceVersions, conflicts on a stale one, AlreadyExists.
type fakeConfigMaps struct {
	mu   sync.Mutex
	cms  map[string]*corev1.ConfigMap
	rv   int
	gets int
	// fail, when set, fails every call.
	fail error
	// beforeUpdate, when set, runs before each update (another writer).
	beforeUpdate func()
}

var cmResource = schema.GroupResource{Resource: "configmaps"}

func (f *fakeConfigMaps) Get(_ context.Context, name string, _ metav1.GetOptions) (*corev1.ConfigMap, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.gets++
	if f.fail != nil {
		return nil, f.fail
	}
	cm, ok := f.cms[name]
	if !ok {
		return nil, apierrors.NewNotFound(cmResource, name)
	}
	return cm.DeepCopy(), nil
}

func (f *fakeConfigMaps) Create(_ context.Context, cm *corev1.ConfigMap, _ metav1.CreateOptions) (*corev1.ConfigMap, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return nil, f.fail
	}
	if _, ok := f.cms[cm.Name]; ok {
		return nil, apierrors.NewAlreadyExists(cmResource, cm.Name)
	}
	return f.store(cm), nil
}

func (f *fakeConfigMaps) Update(_ context.Context, cm *corev1.ConfigMap, _ metav1.UpdateOptions) (*corev1.ConfigMap, error) {
	if f.beforeUpdate != nil {
		f.beforeUpdate()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return nil, f.fail
	}
	old, ok := f.cms[cm.Name]
	if !ok {
		return nil, apierrors.NewNotFound(cmResource, cm.Name)
	}
	if cm.ResourceVersion != old.ResourceVersion {
		return nil, apierrors.NewConflict(cmResource, cm.Name, errors.New("the object has been modified"))
	}
	return f.store(cm), nil
}

// store keeps a copy of cm with a new resourceVersion. f.mu is held.
func (f *fakeConfigMaps) store(cm *corev1.ConfigMap) *corev1.ConfigMap {
	if f.cms == nil {
		f.cms = map[string]*corev1.ConfigMap{}
	}
	f.rv++
	c := cm.DeepCopy()
	c.ResourceVersion = strconv.Itoa(f.rv)
	f.cms[c.Name] = c
	return c.DeepCopy()
}

// entries are what the ConfigMap of env holds, oldest first.
func (f *fakeConfigMaps) entries(t *testing.T, env string) []Entry {
	t.Helper()
	f.mu.Lock()
	cm, ok := f.cms[ConfigMapName(env)]
	f.mu.Unlock()
	if !ok {
		return nil
	}
	entries, err := decode(cm, env)
	if err != nil {
		t.Fatal(err)
	}
	return entries
}

func newRing(env string, f *fakeConfigMaps, leading *bool) *Ring {
	return New(env, Options{
		ConfigMaps: func() (ConfigMaps, error) { return f, nil },
		Namespace:  "digitops-system",
		Leading:    func() bool { return leading == nil || *leading },
		Log:        slog.New(slog.DiscardHandler),
	})
}

func TestRing_appendFlushAndReload(t *testing.T) {
	ctx := context.Background()
	f := &fakeConfigMaps{}
	r := newRing("dev", f, nil)
	r.Append(at(1, "egov-user"), true)
	r.Append(at(2), true)
	if got := minutes(r.List(ctx)); got != "2,1" {
		t.Fatalf("before the write List = %s, want 2,1 (newest first, from memory)", got)
	}
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if got := minutes(f.entries(t, "dev")); got != "1,2" {
		t.Fatalf("stored %q, want 1,2 (oldest first)", got)
	}
	cm := f.cms[ConfigMapName("dev")]
	if cm.Labels[ComponentLabel] != "sync-history" || cm.Annotations[EnvironmentAnnotation] != "dev" || cm.Namespace != "digitops-system" {
		t.Errorf("ConfigMap metadata: %+v", cm.ObjectMeta)
	}
	// A second write is one update with the resourceVersion it knows: no
	// read.
	gets := f.gets
	r.Append(at(3), true)
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if f.gets != gets {
		t.Errorf("the second write read the ConfigMap %d time(s), want none", f.gets-gets)
	}
	// Another process (a restart) loads what was stored.
	again := newRing("dev", f, nil)
	if err := again.load(ctx); err != nil {
		t.Fatal(err)
	}
	if got := minutes(again.List(ctx)); got != "3,2,1" {
		t.Errorf("after a restart List = %s, want 3,2,1", got)
	}
	if len(again.List(ctx)[2].Releases) != 1 {
		t.Error("the releases of an entry were not stored")
	}
}

// TestRing_conflict: another replica wrote since this one last read: the
// write conflicts, the ring reads again and merges by start time.
func TestRing_conflict(t *testing.T) {
	ctx := context.Background()
	f := &fakeConfigMaps{}
	old, next := newRing("dev", f, nil), newRing("dev", f, nil)
	old.Append(at(1), true)
	if err := old.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := next.load(ctx); err != nil {
		t.Fatal(err)
	}
	old.Append(at(2), true) // the old leader's last sync
	if err := old.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	next.Append(at(3), true)
	if err := next.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if got := minutes(f.entries(t, "dev")); got != "1,2,3" {
		t.Errorf("stored %q, want 1,2,3 (the other replica's entry kept)", got)
	}
	if got := minutes(next.List(ctx)); got != "3,2,1" {
		t.Errorf("List = %s, want 3,2,1", got)
	}

	// A conflict on every attempt for a while: a writer in between each
	// read and update of ours.
	n := 0
	f.beforeUpdate = func() {
		if n++; n <= 2 {
			f.mu.Lock()
			f.rv++ // the object changed: every resourceVersion known is stale
			f.cms[ConfigMapName("dev")].ResourceVersion = strconv.Itoa(f.rv)
			f.mu.Unlock()
		}
	}
	next.Append(at(4), true)
	if err := next.Flush(ctx); err != nil {
		t.Fatalf("after 2 conflicts: %v", err)
	}
	if got := minutes(f.entries(t, "dev")); got != "1,2,3,4" {
		t.Errorf("stored %q, want 1,2,3,4", got)
	}
}

// TestRing_createRace: two rings create the ConfigMap at once; the second
// finds it and updates it.
func TestRing_createRace(t *testing.T) {
	ctx := context.Background()
	f := &fakeConfigMaps{}
	a, b := newRing("dev", f, nil), newRing("dev", f, nil)
	if err := a.load(ctx); err != nil {
		t.Fatal(err)
	}
	if err := b.load(ctx); err != nil { // both saw none
		t.Fatal(err)
	}
	a.Append(at(1), true)
	b.Append(at(2), true)
	if err := a.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := b.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if got := minutes(f.entries(t, "dev")); got != "1,2" {
		t.Errorf("stored %q, want 1,2", got)
	}
}

// TestRing_failedWrite: a write that fails keeps the entries pending (and
// listed) and says why; the next one stores them.
func TestRing_failedWrite(t *testing.T) {
	ctx := context.Background()
	f := &fakeConfigMaps{fail: apierrors.NewForbidden(cmResource, "x", errors.New("RBAC"))}
	r := newRing("dev", f, nil)
	r.Append(at(1), true)
	if err := r.Flush(ctx); err == nil {
		t.Fatal("the write did not fail")
	}
	if !strings.Contains(r.Err(), "forbidden") {
		t.Errorf("Err = %q, want the write's error", r.Err())
	}
	if got := minutes(r.List(ctx)); got != "1" {
		t.Errorf("List = %s after a failed write, want 1", got)
	}
	f.fail = nil
	r.Append(at(2), true)
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if got := minutes(f.entries(t, "dev")); got != "1,2" || r.Err() != "" {
		t.Errorf("stored %q (err %q), want 1,2 and no error", got, r.Err())
	}

	// No home cluster at all: kept in memory.
	none := New("qa", Options{ConfigMaps: func() (ConfigMaps, error) { return nil, errors.New("no kubeconfig") }, Log: slog.New(slog.DiscardHandler)})
	none.Append(at(1), true)
	if err := none.Flush(ctx); err == nil || !strings.Contains(none.Err(), "no home cluster") {
		t.Errorf("without a home cluster: %v, Err %q", err, none.Err())
	}
	if len(none.List(ctx)) != 1 {
		t.Error("the entry was lost without a home cluster")
	}
}

// TestRing_foreignConfigMap: a ConfigMap of the ring's name that is not
// this environment's history is never overwritten.
func TestRing_foreignConfigMap(t *testing.T) {
	ctx := context.Background()
	f := &fakeConfigMaps{}
	f.store(&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: ConfigMapName("dev")}, Data: map[string]string{"mine": "yes"}})
	r := newRing("dev", f, nil)
	r.Append(at(1), true)
	if err := r.Flush(ctx); err == nil || !strings.Contains(err.Error(), "left alone") {
		t.Fatalf("write over a foreign ConfigMap: %v", err)
	}
	if f.cms[ConfigMapName("dev")].Data["mine"] != "yes" {
		t.Error("the foreign ConfigMap was overwritten")
	}
}

// TestRing_unreadable: entries that do not decode are dropped and the
// history starts again.
func TestRing_unreadable(t *testing.T) {
	ctx := context.Background()
	f := &fakeConfigMaps{}
	cm, _ := configMap(ConfigMapName("dev"), "", "dev", "", nil)
	cm.Data[DataKey] = "{not json"
	f.store(cm)
	r := newRing("dev", f, nil)
	if err := r.load(ctx); err != nil {
		t.Fatal(err)
	}
	r.Append(at(1), true)
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if got := minutes(f.entries(t, "dev")); got != "1" {
		t.Errorf("stored %q, want 1", got)
	}
}

// TestRing_standby: a replica that does not lead stores nothing of its
// own, lists the leader's entries (reading them again at most every
// RefreshEvery) with its own standby syncs.
func TestRing_standby(t *testing.T) {
	ctx := context.Background()
	f := &fakeConfigMaps{}
	leader := newRing("dev", f, nil)
	no := false
	standby := newRing("dev", f, &no)
	leader.Append(at(1), true)
	if err := leader.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	s := at(2)
	s.Result = ResultStandby
	standby.Append(s, false)
	if err := standby.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if got := minutes(f.entries(t, "dev")); got != "1" {
		t.Fatalf("stored %q: a standby wrote", got)
	}
	if got := minutes(standby.List(ctx)); got != "2,1" {
		t.Errorf("standby List = %s, want 2,1", got)
	}
	leader.Append(at(3), true)
	if err := leader.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	gets := f.gets
	if got := minutes(standby.List(ctx)); got != "2,1" || f.gets != gets {
		t.Errorf("standby List right after a read = %s with %d read(s), want 2,1 from memory", got, f.gets-gets)
	}
	standby.mu.Lock()
	standby.readAt = time.Now().Add(-RefreshEvery)
	standby.mu.Unlock()
	if got := minutes(standby.List(ctx)); got != "3,2,1" {
		t.Errorf("standby List after RefreshEvery = %s, want 3,2,1", got)
	}
}

// TestRing_run: Run loads, writes each append, and writes what the last
// sync appended after it was told to stop.
func TestRing_run(t *testing.T) {
	f := &fakeConfigMaps{}
	seed := newRing("dev", f, nil)
	seed.Append(at(1), true)
	if err := seed.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	r := newRing("dev", f, nil)
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.Run(ctx); close(done) }()
	r.Append(at(2), true)
	deadline := time.Now().Add(5 * time.Second)
	for minutes(f.entries(t, "dev")) != "1,2" {
		if time.Now().After(deadline) {
			t.Fatalf("stored %q, want 1,2", minutes(f.entries(t, "dev")))
		}
		time.Sleep(5 * time.Millisecond)
	}
	r.mu.Lock()
	r.pending = append(r.pending, at(3)) // appended as Run stops: no kick
	r.mu.Unlock()
	stop()
	<-done
	if got := minutes(f.entries(t, "dev")); got != "1,2,3" {
		t.Errorf("after stopping, stored %q, want 1,2,3", got)
	}
}
