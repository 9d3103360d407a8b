package shard

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/digitops/digitops/internal/parallel"
)

// Defaults of Options.
const (
	DefaultLeaseDuration = 30 * time.Second
	DefaultRenewInterval = 10 * time.Second
	DefaultRetryPeriod   = 2 * time.Second
)

// Options configure a Manager.
type Options struct {
	// Client talks to the home cluster, where the Leases are.
	Client kubernetes.Interface
	// Namespace holds the Leases.
	Namespace string
	// Group tells apart shard groups sharing a namespace (the serve
	// Deployment's name); "digitops" when empty.
	Group string
	// Identity names this replica; required and unique in the group.
	Identity string
	// Address is the URL the other replicas reach this replica's HTTP API
	// at (status and actions of the environments it owns).
	Address string
	// LeaseDuration is how long a Lease not renewed stays held;
	// RenewInterval how often a holder renews; RetryPeriod how often the
	// Leases are looked at (members, free environments). Their defaults
	// are DefaultLeaseDuration, DefaultRenewInterval and
	// DefaultRetryPeriod; RenewInterval must be under LeaseDuration.
	LeaseDuration, RenewInterval, RetryPeriod time.Duration
	// Environments returns the names of every environment to assign.
	Environments func() []string
	// Changed is called, outside the Manager's lock, when this replica
	// starts or stops owning env.
	Changed func(env string, owned bool)
	// Handover is called when this replica takes an environment Lease
	// another replica held before.
	Handover func(env string)
	// Log receives the logs.
	Log *slog.Logger
}

// Manager holds this replica's member Lease and the Leases of the
// environments assigned to it. Build it with New, run it with Run.
type Manager struct {
	opts Options

	mu       sync.Mutex
	held     map[string]*holding // by environment name
	members  []Member            // live members, by identity
	owners   map[string]string   // environment → holder identity, as last listed
	assigned map[string]string   // environment → member, as last computed
	member   *coordinationv1.Lease
	// memberRenewed is when this replica's member Lease was last renewed.
	memberRenewed time.Time
	// failing is set while the member Lease or the list fails, so that
	// a partition is logged once, not on every tick.
	failing bool
}

// Member is one live replica.
type Member struct {
	Identity string
	// Address is where its HTTP API answers ("" when it gave none).
	Address string
}

// holding is one environment Lease this replica holds.
type holding struct {
	lease *coordinationv1.Lease
	// renewed is when the last successful renew (or the take) started.
	renewed time.Time
	// lost closes when this replica must stop acting on the environment;
	// expiry closes it when the Lease could not be renewed in time.
	lost   chan struct{}
	closed bool
	expiry *time.Timer
	// active counts the guards not ended.
	active int
	// releasing is set once the environment is assigned elsewhere (or
	// the Manager stops): the Lease is released when active drops to 0.
	releasing bool
}

// New validates opts and returns a Manager; it does no I/O.
func New(opts Options) (*Manager, error) {
	if opts.Client == nil || opts.Identity == "" || opts.Namespace == "" || opts.Environments == nil {
		return nil, errors.New("shard: Client, Namespace, Identity and Environments are required")
	}
	if opts.Group == "" {
		opts.Group = "digitops"
	}
	if opts.LeaseDuration <= 0 {
		opts.LeaseDuration = DefaultLeaseDuration
	}
	if opts.RenewInterval <= 0 {
		opts.RenewInterval = DefaultRenewInterval
	}
	if opts.RetryPeriod <= 0 {
		opts.RetryPeriod = DefaultRetryPeriod
	}
	if opts.RenewInterval >= opts.LeaseDuration {
		return nil, fmt.Errorf("shard: the renew interval %s must be under the lease duration %s", opts.RenewInterval, opts.LeaseDuration)
	}
	if opts.LeaseDuration < time.Second {
		return nil, fmt.Errorf("shard: the lease duration %s is under a second", opts.LeaseDuration)
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	if opts.Changed == nil {
		opts.Changed = func(string, bool) {}
	}
	if opts.Handover == nil {
		opts.Handover = func(string) {}
	}
	return &Manager{opts: opts, held: map[string]*holding{}, owners: map[string]string{}, assigned: map[string]string{}}, nil
}

// Identity is this replica's identity.
func (m *Manager) Identity() string { return m.opts.Identity }

// Guard is one use of an environment by this replica (a sync, a drift
// correction). End it when done.
type Guard struct {
	m    *Manager
	env  string
	h    *holding
	once sync.Once
}

// Lost closes when this replica must stop starting Helm actions on the
// environment. A nil Guard (no sharding) is never lost.
func (g *Guard) Lost() <-chan struct{} {
	if g == nil {
		return nil
	}
	return g.h.lost
}

// End ends the use; a hand-over waiting for it may release the Lease. It
// does nothing on a nil Guard.
func (g *Guard) End() {
	if g == nil {
		return
	}
	g.once.Do(func() {
		g.m.mu.Lock()
		g.h.active--
		g.m.mu.Unlock()
	})
}

// Begin returns a guard when this replica owns env and may act on it now,
// false otherwise.
func (m *Manager) Begin(env string) (*Guard, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	h, ok := m.held[env]
	if !ok || h.releasing || h.closed {
		return nil, false
	}
	h.active++
	return &Guard{m: m, env: env, h: h}, true
}

// Owns reports whether this replica holds env's Lease and may act on it.
func (m *Manager) Owns(env string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	h, ok := m.held[env]
	return ok && !h.releasing && !h.closed
}

// Owned returns the environments this replica owns, sorted.
func (m *Manager) Owned() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for env, h := range m.held {
		if !h.releasing && !h.closed {
			out = append(out, env)
		}
	}
	sort.Strings(out)
	return out
}

// Owner returns the member holding env's Lease as last listed, false when
// none does (being handed over, or not listed yet).
func (m *Manager) Owner(env string) (Member, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	id, ok := m.owners[env]
	if !ok || id == "" {
		return Member{}, false
	}
	for _, mb := range m.members {
		if mb.Identity == id {
			return mb, true
		}
	}
	return Member{Identity: id}, true
}

// Members returns the live members as last listed, by identity.
func (m *Manager) Members() []Member {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]Member(nil), m.members...)
}

// Run takes, renews and releases Leases every RetryPeriod until ctx ends;
// then it stops acting on every environment, waits up to grace for the
// guards in use to end, releases its Leases and deletes its member Lease.
func (m *Manager) Run(ctx context.Context, grace time.Duration) {
	t := time.NewTicker(m.opts.RetryPeriod)
	defer t.Stop()
	for {
		m.tick(ctx)
		select {
		case <-ctx.Done():
			m.stop(grace)
			return
		case <-t.C:
		}
	}
}

// request bounds one API call, so that a partitioned apiserver never holds
// a tick past the renew interval.
func (m *Manager) request(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, m.opts.RenewInterval/2)
}

// tick renews the member Lease, lists the Leases, assigns the environments
// and takes, renews or releases environment Leases accordingly.
func (m *Manager) tick(ctx context.Context) {
	now := time.Now()
	var err error
	if now.Sub(m.memberRenewed) >= m.opts.RenewInterval {
		err = m.renewMember(ctx, now)
	}
	var list *coordinationv1.LeaseList
	if err == nil {
		rctx, cancel := m.request(ctx)
		list, err = m.opts.Client.CoordinationV1().Leases(m.opts.Namespace).List(rctx, metav1.ListOptions{LabelSelector: LabelGroup + "=" + m.opts.Group})
		cancel()
	}
	switch {
	case err != nil && !m.failing && ctx.Err() == nil:
		m.opts.Log.Warn("unable to reach the shard Leases; acting on the environments held until their Leases run out", "error", err)
		m.failing = true
	case err == nil && m.failing:
		m.opts.Log.Info("shard Leases reachable again")
		m.failing = false
	}
	if err != nil {
		m.renewHeld(ctx) // keep what is held, while it can be renewed
		return
	}
	now = time.Now()
	members, envLeases := m.read(list.Items, now)
	names := m.opts.Environments()
	assigned := Assign(names, identities(members))
	m.mu.Lock()
	m.members = members
	m.assigned = assigned
	m.owners = map[string]string{}
	for env, l := range envLeases {
		m.owners[env] = holder(l, now)
	}
	var release, take []string
	for env, h := range m.held {
		if assigned[env] != m.opts.Identity && !h.releasing {
			h.releasing = true
			m.closeLost(h)
		}
		if h.releasing && h.active == 0 {
			release = append(release, env)
		}
	}
	for _, env := range names {
		if _, ok := m.held[env]; !ok && assigned[env] == m.opts.Identity {
			take = append(take, env)
		}
	}
	m.mu.Unlock()
	parallel.ForEach(ctx, len(release), leaseWorkers, func(ctx context.Context, i int) { m.release(ctx, release[i]) })
	sort.Strings(take)
	parallel.ForEach(ctx, len(take), leaseWorkers, func(ctx context.Context, i int) { m.take(ctx, take[i], envLeases[take[i]]) })
	m.renewHeld(ctx)
}

// read sorts the listed Leases into live members (this replica counts as
// live while its own member Lease is valid) and environment Leases.
func (m *Manager) read(items []coordinationv1.Lease, now time.Time) ([]Member, map[string]*coordinationv1.Lease) {
	var members []Member
	envs := map[string]*coordinationv1.Lease{}
	self := false
	for i := range items {
		l := &items[i]
		name := l.Annotations[AnnotationName]
		switch l.Labels[LabelShard] {
		case kindMember:
			id := holder(l, now)
			if id == "" || id != name {
				continue
			}
			self = self || id == m.opts.Identity
			members = append(members, Member{Identity: id, Address: l.Annotations[AnnotationAddress]})
		case kindEnvironment:
			if l.Name == leaseName(kindEnvironment, name) {
				envs[name] = l
			}
		}
	}
	if !self && now.Sub(m.memberRenewed) < m.opts.LeaseDuration-m.opts.RenewInterval {
		members = append(members, Member{Identity: m.opts.Identity, Address: m.opts.Address})
	}
	sort.Slice(members, func(i, j int) bool { return members[i].Identity < members[j].Identity })
	return members, envs
}

func identities(ms []Member) []string {
	out := make([]string, len(ms))
	for i, mb := range ms {
		out[i] = mb.Identity
	}
	return out
}

// renewMember creates or renews this replica's member Lease.
func (m *Manager) renewMember(ctx context.Context, now time.Time) error {
	rctx, cancel := m.request(ctx)
	defer cancel()
	leases := m.opts.Client.CoordinationV1().Leases(m.opts.Namespace)
	if m.member == nil {
		l, err := leases.Get(rctx, leaseName(kindMember, m.opts.Identity), metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			created, err := leases.Create(rctx, leaseFor(m.opts.Namespace, m.opts.Group, kindMember, m.opts.Identity, m.opts.Identity, m.opts.Address, m.opts.LeaseDuration, now), metav1.CreateOptions{})
			if err != nil {
				return err
			}
			m.member, m.memberRenewed = created, now
			return nil
		case err != nil:
			return err
		}
		m.member = l
	}
	l := m.member.DeepCopy()
	if m.opts.Address != "" {
		if l.Annotations == nil {
			l.Annotations = map[string]string{}
		}
		l.Annotations[AnnotationAddress] = m.opts.Address
	}
	hold(l, m.opts.Identity, m.opts.LeaseDuration, now)
	updated, err := leases.Update(rctx, l, metav1.UpdateOptions{})
	if err != nil {
		m.member = nil // read it again next time
		return err
	}
	m.member, m.memberRenewed = updated, now
	return nil
}

// take takes env's Lease when it is missing, released or expired; a Lease
// another replica holds is left to it (it hands over when it sees the new
// assignment, or its Lease expires).
func (m *Manager) take(ctx context.Context, env string, current *coordinationv1.Lease) {
	start := time.Now()
	rctx, cancel := m.request(ctx)
	defer cancel()
	leases := m.opts.Client.CoordinationV1().Leases(m.opts.Namespace)
	var got *coordinationv1.Lease
	var err error
	handover := false
	switch {
	case current == nil:
		got, err = leases.Create(rctx, leaseFor(m.opts.Namespace, m.opts.Group, kindEnvironment, env, m.opts.Identity, "", m.opts.LeaseDuration, start), metav1.CreateOptions{})
	default:
		h := holder(current, start)
		if h != "" && h != m.opts.Identity {
			return // held: wait for its hand-over or expiry
		}
		handover = current.Spec.HolderIdentity != nil && *current.Spec.HolderIdentity != m.opts.Identity
		l := current.DeepCopy()
		hold(l, m.opts.Identity, m.opts.LeaseDuration, start)
		got, err = leases.Update(rctx, l, metav1.UpdateOptions{})
	}
	if err != nil {
		if !apierrors.IsConflict(err) && !apierrors.IsAlreadyExists(err) && ctx.Err() == nil {
			m.opts.Log.Warn("unable to take the environment Lease", "environment", env, "error", err)
		}
		return
	}
	h := &holding{lease: got, renewed: start, lost: make(chan struct{})}
	m.mu.Lock()
	if ctx.Err() != nil {
		m.mu.Unlock()
		return
	}
	m.held[env] = h
	m.owners[env] = m.opts.Identity
	m.arm(env, h)
	m.mu.Unlock()
	m.opts.Log.Info("owning environment", "environment", env, "identity", m.opts.Identity)
	if handover {
		m.opts.Handover(env)
	}
	m.opts.Changed(env, true)
}

// arm (re)sets h's expiry: this replica stops acting on env at
// LeaseDuration - RenewInterval after the start of its last successful
// renew, before any other replica may see the Lease expire. m.mu is held.
func (m *Manager) arm(env string, h *holding) {
	left := time.Until(h.renewed.Add(m.opts.LeaseDuration - m.opts.RenewInterval))
	if h.expiry != nil {
		h.expiry.Stop()
	}
	h.expiry = time.AfterFunc(left, func() { m.expire(env, h) })
}

// expire stops acting on env: its Lease could not be renewed in time.
func (m *Manager) expire(env string, h *holding) {
	m.mu.Lock()
	if m.held[env] != h || time.Since(h.renewed) < m.opts.LeaseDuration-m.opts.RenewInterval {
		m.mu.Unlock()
		return // renewed meanwhile, or already gone
	}
	delete(m.held, env)
	m.closeLost(h)
	m.mu.Unlock()
	m.opts.Log.Error("stopped acting on the environment: its Lease could not be renewed in time", "environment", env)
	m.opts.Changed(env, false)
}

// closeLost closes h's lost channel once. m.mu is held.
func (m *Manager) closeLost(h *holding) {
	if !h.closed {
		h.closed = true
		close(h.lost)
	}
}

// renewHeld renews the environment Leases due for it.
func (m *Manager) renewHeld(ctx context.Context) {
	m.mu.Lock()
	var due []string
	for env, h := range m.held {
		// A Lease being handed over is renewed too, until the use in
		// flight ends and it is released.
		if time.Since(h.renewed) >= m.opts.RenewInterval {
			due = append(due, env)
		}
	}
	m.mu.Unlock()
	sort.Strings(due)
	parallel.ForEach(ctx, len(due), leaseWorkers, func(ctx context.Context, i int) { m.renew(ctx, due[i]) })
}

// leaseWorkers bounds the Lease writes in flight at once: a replica owning
// a hundred environments renews them within one round trip or a few.
const leaseWorkers = 16

func (m *Manager) renew(ctx context.Context, env string) {
	m.mu.Lock()
	h, ok := m.held[env]
	if !ok {
		m.mu.Unlock()
		return
	}
	l := h.lease.DeepCopy()
	m.mu.Unlock()
	start := time.Now()
	hold(l, m.opts.Identity, m.opts.LeaseDuration, start)
	rctx, cancel := m.request(ctx)
	updated, err := m.opts.Client.CoordinationV1().Leases(m.opts.Namespace).Update(rctx, l, metav1.UpdateOptions{})
	cancel()
	m.mu.Lock()
	if m.held[env] != h {
		m.mu.Unlock()
		return
	}
	switch {
	case err == nil:
		h.lease, h.renewed = updated, start
		m.arm(env, h)
		m.mu.Unlock()
	case apierrors.IsConflict(err) || apierrors.IsNotFound(err):
		// Someone else wrote it: it expired here, or was deleted.
		delete(m.held, env)
		h.expiry.Stop()
		m.closeLost(h)
		m.mu.Unlock()
		m.opts.Log.Error("lost the environment Lease", "environment", env, "error", err)
		m.opts.Changed(env, false)
	default:
		m.mu.Unlock()
		if ctx.Err() == nil {
			m.opts.Log.Warn("unable to renew the environment Lease", "environment", env, "error", err)
		}
	}
}

// release empties the holder of env's Lease so that its new owner takes it
// at once.
func (m *Manager) release(ctx context.Context, env string) {
	m.mu.Lock()
	h, ok := m.held[env]
	if !ok {
		m.mu.Unlock()
		return
	}
	delete(m.held, env)
	h.expiry.Stop()
	m.closeLost(h)
	l := h.lease.DeepCopy()
	m.mu.Unlock()
	// No guard is in use: this replica has stopped acting on env before
	// anyone may take it.
	m.opts.Changed(env, false)
	empty := ""
	l.Spec.HolderIdentity = &empty
	rctx, cancel := m.request(ctx)
	_, err := m.opts.Client.CoordinationV1().Leases(m.opts.Namespace).Update(rctx, l, metav1.UpdateOptions{})
	cancel()
	if err != nil {
		m.opts.Log.Warn("unable to release the environment Lease; it expires instead", "environment", env, "error", err)
	} else {
		m.opts.Log.Info("handed over environment", "environment", env, "identity", m.opts.Identity)
	}
}

// stop ends ownership on shutdown: guards are told, those in use get up
// to grace to end, then the Leases are released and the member Lease
// deleted (each call bounded: a replica that cannot reach the apiserver
// leaves its Leases to expire).
func (m *Manager) stop(grace time.Duration) {
	m.mu.Lock()
	for _, h := range m.held {
		h.releasing = true
		m.closeLost(h)
	}
	m.mu.Unlock()
	deadline := time.Now().Add(grace)
	for time.Now().Before(deadline) {
		m.mu.Lock()
		busy := 0
		for _, h := range m.held {
			busy += h.active
		}
		m.mu.Unlock()
		if busy == 0 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	m.mu.Lock()
	var envs []string
	for env := range m.held {
		envs = append(envs, env)
	}
	m.mu.Unlock()
	parallel.ForEach(ctx, len(envs), leaseWorkers, func(ctx context.Context, i int) { m.release(ctx, envs[i]) })
	rctx, rcancel := m.request(ctx)
	defer rcancel()
	err := m.opts.Client.CoordinationV1().Leases(m.opts.Namespace).Delete(rctx, leaseName(kindMember, m.opts.Identity), metav1.DeleteOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		m.opts.Log.Warn("unable to delete the member Lease; it expires instead", "error", err)
	}
}
