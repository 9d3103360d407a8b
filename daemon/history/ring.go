package history

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
)

const (
	// RefreshEvery is how often, at most, a ring that does not lead reads
	// its ConfigMap again when asked for its entries.
	RefreshEvery = 5 * time.Second
	// DefaultRetryAfter is how long after a failed write a ring tries
	// again, unless an entry is appended sooner.
	DefaultRetryAfter = 30 * time.Second
	// writeTimeout bounds one write (its retries on conflict included).
	writeTimeout = 10 * time.Second
	// refreshTimeout bounds List's read, on a request's path.
	refreshTimeout = 5 * time.Second
)

// Options configure a Ring.
type Options struct {
	// ConfigMaps returns the ConfigMaps of Namespace in the home cluster.
	ConfigMaps func() (ConfigMaps, error)
	// Namespace holds the ConfigMap (the daemon's state namespace).
	Namespace string
	// Leading reports whether this replica leads; nil: it does.
	Leading func() bool
	// RetryAfter is DefaultRetryAfter when zero.
	RetryAfter time.Duration
	// Log receives the failed reads and writes.
	Log *slog.Logger
}

// Ring is one environment's sync history: the entries its ConfigMap held
// when last read or written, the entries appended since that are to be
// stored, and the entries of this replica's syncs as a standby, which are
// not.
type Ring struct {
	env  string
	name string
	opts Options
	// kick wakes Run: an entry to store was appended.
	kick chan struct{}
	// io serializes the reads and writes of the ConfigMap.
	io sync.Mutex

	mu sync.Mutex
	// stored are the ConfigMap's entries, oldest first, as last read or
	// written; rv its resourceVersion ("" when it does not exist); known
	// is set once read or written.
	stored []Entry
	rv     string
	known  bool
	readAt time.Time
	// pending are to be stored, local never (oldest first).
	pending, local []Entry
	// err is the last read or write error, "" when it worked.
	err string
}

// New returns the (empty) ring of environment; Run loads it.
func New(environment string, opts Options) *Ring {
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	if opts.RetryAfter <= 0 {
		opts.RetryAfter = DefaultRetryAfter
	}
	return &Ring{env: environment, name: ConfigMapName(environment), opts: opts, kick: make(chan struct{}, 1)}
}

// ConfigMap is the namespace/name of the ring's ConfigMap.
func (r *Ring) ConfigMap() string { return r.opts.Namespace + "/" + r.name }

// Append records e, cut to MaxEntryBytes (Fit), in memory, and returns
// at once. With store set (this replica acted on the sync) Run writes it
// to the ConfigMap; else it stays in this replica's memory.
func (r *Ring) Append(e Entry, store bool) {
	e = Fit(e, MaxEntryBytes)
	r.mu.Lock()
	if store {
		r.pending = Bound(append(r.pending, e), MaxEntries, MaxBytes)
	} else {
		r.local = Bound(append(r.local, e), MaxEntries, MaxBytes)
	}
	r.mu.Unlock()
	if store {
		select {
		case r.kick <- struct{}{}:
		default:
		}
	}
}

// List returns the entries, newest first: those stored, those still to
// store and this replica's standby syncs, within the ring's bounds. A
// ring that does not lead reads its ConfigMap first when it last did
// RefreshEvery ago or more (the leader writes it); when that fails, Err
// says why and the entries last known are returned.
func (r *Ring) List(ctx context.Context) []Entry {
	if r.opts.Leading != nil && !r.opts.Leading() {
		r.mu.Lock()
		stale := time.Since(r.readAt) >= RefreshEvery
		r.mu.Unlock()
		if stale {
			ctx, cancel := context.WithTimeout(ctx, refreshTimeout)
			_ = r.load(ctx)
			cancel()
		}
	}
	r.mu.Lock()
	all := Bound(Merge(r.stored, r.pending, r.local), MaxEntries, MaxBytes)
	r.mu.Unlock()
	out := make([]Entry, len(all))
	for i, e := range all {
		out[len(all)-1-i] = e
	}
	return out
}

// Err is why the last read or write of the ConfigMap failed, "" when it
// worked (or none was made).
func (r *Ring) Err() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

// Run loads the ConfigMap, then writes the entries Append records with
// store set, until ctx ends; then it writes once more what the last syncs
// appended. Each write has its own timeout (writeTimeout), so that one in
// flight when ctx ends is not cut short. A failed read or write is logged
// (a warning the first time in a row) and the write tried again after
// Options.RetryAfter or at the next Append; the entries stay in memory
// meanwhile.
func (r *Ring) Run(ctx context.Context) {
	if err := r.load(ctx); err != nil && ctx.Err() == nil {
		r.opts.Log.Warn("unable to read the sync history; it starts empty", "configMap", r.ConfigMap(), "error", err)
	}
	var again <-chan time.Time
	for {
		select {
		case <-ctx.Done():
		case <-r.kick:
		case <-again:
		}
		stopping := ctx.Err() != nil
		wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), writeTimeout)
		ok := r.write(wctx)
		cancel()
		if stopping {
			return
		}
		again = nil
		if !ok {
			again = time.After(r.opts.RetryAfter)
		}
	}
}

// write stores the pending entries and logs a failure, as a warning when
// the last write worked. It reports whether it worked.
func (r *Ring) write(ctx context.Context) bool {
	r.mu.Lock()
	wasFailing := r.err != ""
	r.mu.Unlock()
	err := r.Flush(ctx)
	switch {
	case err == nil && wasFailing && r.Err() == "":
		r.opts.Log.Info("sync history stored again", "configMap", r.ConfigMap())
	case err != nil && !wasFailing:
		r.opts.Log.Warn("unable to store the sync history; it is kept in memory and tried again", "configMap", r.ConfigMap(), "error", err)
	case err != nil:
		r.opts.Log.Debug("unable to store the sync history", "configMap", r.ConfigMap(), "error", err)
	}
	return err == nil
}

// Flush writes the pending entries to the ConfigMap: one create or
// update, conditional on the resourceVersion last read or written. On a
// conflict (another replica wrote since) it reads the ConfigMap again and
// merges the entries by start time. On success the written entries are no
// longer pending; on failure they stay so, and Err says why.
func (r *Ring) Flush(ctx context.Context) error {
	r.io.Lock()
	defer r.io.Unlock()
	r.mu.Lock()
	batch := slices.Clone(r.pending)
	base, rv, known := r.stored, r.rv, r.known
	r.mu.Unlock()
	if len(batch) == 0 {
		return nil
	}
	cms, err := r.opts.ConfigMaps()
	if err != nil {
		return r.failed(fmt.Errorf("no home cluster to store it in: %w", err))
	}
	var written []Entry
	retriable := func(err error) bool { return apierrors.IsConflict(err) || apierrors.IsAlreadyExists(err) }
	err = retry.OnError(retry.DefaultRetry, retriable, func() error {
		if !known {
			var err error
			if base, rv, err = r.read(ctx, cms); err != nil {
				return err
			}
			known = true
		}
		next := Bound(Merge(base, batch), MaxEntries, MaxBytes)
		cm, err := configMap(r.name, r.opts.Namespace, r.env, rv, next)
		if err != nil {
			return err
		}
		var out *corev1.ConfigMap
		if rv == "" {
			out, err = cms.Create(ctx, cm, metav1.CreateOptions{FieldManager: fieldManager})
		} else {
			out, err = cms.Update(ctx, cm, metav1.UpdateOptions{FieldManager: fieldManager})
		}
		if err != nil {
			known = false // read it again before the next attempt
			return err
		}
		written, rv = next, out.ResourceVersion
		return nil
	})
	if err != nil {
		return r.failed(fmt.Errorf("unable to write ConfigMap %s: %w", r.ConfigMap(), err))
	}
	done := map[string]bool{}
	for _, e := range batch {
		done[e.key()] = true
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stored, r.rv, r.known, r.readAt, r.err = written, rv, true, time.Now(), ""
	r.pending = slices.DeleteFunc(r.pending, func(e Entry) bool { return done[e.key()] })
	return nil
}

// load reads the ConfigMap into the ring.
func (r *Ring) load(ctx context.Context) error {
	r.io.Lock()
	defer r.io.Unlock()
	r.mu.Lock()
	r.readAt = time.Now()
	r.mu.Unlock()
	cms, err := r.opts.ConfigMaps()
	if err != nil {
		return r.failed(fmt.Errorf("no home cluster to read it from: %w", err))
	}
	entries, rv, err := r.read(ctx, cms)
	if err != nil {
		return r.failed(err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stored, r.rv, r.known, r.err = entries, rv, true, ""
	return nil
}

// read gets the ConfigMap's entries and resourceVersion; none and "" when
// it does not exist. Unreadable entries are logged and dropped: the
// history starts again. r.io is held.
func (r *Ring) read(ctx context.Context, cms ConfigMaps) ([]Entry, string, error) {
	cm, err := cms.Get(ctx, r.name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return nil, "", nil
	case err != nil:
		return nil, "", fmt.Errorf("unable to read ConfigMap %s: %w", r.ConfigMap(), err)
	}
	entries, err := decode(cm, r.env)
	if errors.Is(err, errForeign) {
		return nil, "", err
	}
	if err != nil {
		r.opts.Log.Warn("sync history unreadable; it starts again", "configMap", r.ConfigMap(), "error", err)
	}
	return entries, cm.ResourceVersion, nil
}

// failed keeps err as the ring's error and returns it.
func (r *Ring) failed(err error) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.err = err.Error()
	return err
}
