package metrics

import (
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// SyncResult is how a sync ended: the values of digitops_sync_total's
// result label, and the status API's lastSync.result.
type SyncResult string

// Sync results.
const (
	// SyncSuccess: the environment was loaded, planned and every step that
	// acted succeeded (including a plan with nothing to do).
	SyncSuccess SyncResult = "success"
	// SyncFailure: fetch, load, plan or at least one release failed.
	SyncFailure SyncResult = "failure"
	// SyncUnchanged: the cheap check found the revision and the cluster
	// unchanged since the last successful sync; nothing was loaded.
	SyncUnchanged SyncResult = "unchanged"
	// SyncSuspended: the environment is suspended.
	SyncSuspended SyncResult = "suspended"
	// SyncStandby: planned, not applied, because this replica is not the leader.
	SyncStandby SyncResult = "standby"
)

// Fetch results.
const (
	FetchSuccess = "success"
	FetchFailure = "failure"
)

// Recorder records the daemon's metrics. Its methods are safe for
// concurrent use.
type Recorder struct {
	syncTotal      *prometheus.CounterVec
	syncDuration   *prometheus.HistogramVec
	lastSuccess    *prometheus.GaugeVec
	releaseDrifted *prometheus.GaugeVec
	driftDetected  *prometheus.CounterVec
	driftFights    *prometheus.CounterVec
	notifications  *prometheus.CounterVec
	releaseActions *prometheus.CounterVec
	fetchTotal     *prometheus.CounterVec
	fetchDuration  *prometheus.HistogramVec
	revisionInfo   *prometheus.GaugeVec
	commitToDeploy *prometheus.HistogramVec
	rolloutWave    *prometheus.GaugeVec
	rolloutRev     *prometheus.GaugeVec
	rolloutHalts   *prometheus.CounterVec
	rolloutGates   *prometheus.CounterVec
	shardOwned     prometheus.Gauge
	shardHandovers prometheus.Counter

	mu        sync.Mutex
	promoted  map[string]string // rollout/environment → commit in rolloutRev
	revisions map[string]string // environment → revision in revisionInfo
	drifted   map[string]bool   // environment/namespace/release → last gauge value
}

// New creates the metrics and registers them with reg.
func New(reg prometheus.Registerer) *Recorder {
	r := &Recorder{
		syncTotal: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "digitops_sync_total",
			Help: "Syncs of an environment, by result (success, failure, unchanged, suspended, standby).",
		}, []string{"environment", "result"}),
		syncDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "digitops_sync_duration_seconds",
			Help:    "Duration of a sync of an environment, from fetch to the end of apply.",
			Buckets: []float64{0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 120, 300, 600, 1800},
		}, []string{"environment"}),
		lastSuccess: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "digitops_last_successful_sync_timestamp_seconds",
			Help: "Unix time of the end of the last successful sync of an environment.",
		}, []string{"environment"}),
		releaseDrifted: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "digitops_release_drifted",
			Help: "1 when the live objects of a release differ from what digitops deployed, else 0.",
		}, []string{"environment", "release", "namespace"}),
		driftDetected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "digitops_drift_detected_total",
			Help: "Times drift was found on a release, corrected or not (a drift left from the sync before is not counted again).",
		}, []string{"environment", "release"}),
		driftFights: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "digitops_drift_fights_total",
			Help: "Times another field manager was found undoing digitops's drift corrections of a release again and again (corrections then back off).",
		}, []string{"environment", "release"}),
		notifications: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "digitops_notifications_total",
			Help: "Notifications by provider and result: sent, failed (after every retry), dropped (queue full), deduplicated (already sent for that revision).",
		}, []string{"provider", "result"}),
		releaseActions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "digitops_release_actions_total",
			Help: "Helm actions digitops took on a release, by action and result.",
		}, []string{"environment", "release", "action", "result"}),
		fetchTotal: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "digitops_source_fetch_total",
			Help: "Fetches of an environment's Git source, by result.",
		}, []string{"environment", "result"}),
		fetchDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "digitops_source_fetch_duration_seconds",
			Help:    "Duration of a fetch of an environment's Git source.",
			Buckets: []float64{0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60},
		}, []string{"environment"}),
		revisionInfo: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "digitops_source_revision_info",
			Help: "The source revision an environment was last synced from (value always 1).",
		}, []string{"environment", "revision"}),
		commitToDeploy: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "digitops_commit_to_deploy_seconds",
			Help:    "Time from a commit's committer time to the end of the sync that applied it.",
			Buckets: []float64{5, 10, 30, 60, 120, 300, 600, 1800, 3600, 4 * 3600, 24 * 3600},
		}, []string{"environment"}),
		rolloutWave: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "digitops_rollout_wave",
			Help: "The wave (from 1) the revision being rolled out has reached; the number of waves + 1 once it reached them all.",
		}, []string{"rollout"}),
		rolloutRev: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "digitops_rollout_environment_revision_info",
			Help: "The commit a rollout has promoted to each environment of its later waves (value always 1).",
		}, []string{"rollout", "environment", "commit"}),
		rolloutHalts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "digitops_rollout_halts_total",
			Help: "Times a rollout halted: an environment failed at the revision, a gate did not hold, or an operator aborted it.",
		}, []string{"rollout"}),
		rolloutGates: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "digitops_rollout_gate_evaluations_total",
			Help: "Prometheus gate queries run during a soak, by result (pass, fail, error).",
		}, []string{"rollout", "result"}),
		shardOwned: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "digitops_shard_owned_environments",
			Help: "Environments this replica owns (serve --shard; 0 without it).",
		}),
		shardHandovers: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "digitops_shard_handovers_total",
			Help: "Environments this replica took over from another replica (serve --shard).",
		}),
		revisions: map[string]string{},
		drifted:   map[string]bool{},
		promoted:  map[string]string{},
	}
	reg.MustRegister(r.syncTotal, r.syncDuration, r.lastSuccess, r.releaseDrifted, r.driftDetected, r.driftFights, r.notifications,
		r.releaseActions, r.fetchTotal, r.fetchDuration, r.revisionInfo, r.commitToDeploy,
		r.rolloutWave, r.rolloutRev, r.rolloutHalts, r.rolloutGates, r.shardOwned, r.shardHandovers)
	return r
}

// ShardOwned sets how many environments this replica owns.
func (r *Recorder) ShardOwned(n int) { r.shardOwned.Set(float64(n)) }

// ShardHandover counts one environment taken over from another replica.
func (r *Recorder) ShardHandover() { r.shardHandovers.Inc() }

// Sync records the end of one sync of env.
func (r *Recorder) Sync(env string, result SyncResult, d time.Duration, end time.Time) {
	r.syncTotal.WithLabelValues(env, string(result)).Inc()
	r.syncDuration.WithLabelValues(env).Observe(d.Seconds())
	if result == SyncSuccess || result == SyncUnchanged {
		r.lastSuccess.WithLabelValues(env).Set(float64(end.UnixNano()) / 1e9)
	}
}

// Fetch records one fetch of env's source; err nil is a success.
func (r *Recorder) Fetch(env string, d time.Duration, err error) {
	result := FetchSuccess
	if err != nil {
		result = FetchFailure
	}
	r.fetchTotal.WithLabelValues(env, result).Inc()
	r.fetchDuration.WithLabelValues(env).Observe(d.Seconds())
}

// Revision records the revision env was synced from, replacing the series
// of the previous one.
func (r *Recorder) Revision(env, revision string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if old, ok := r.revisions[env]; ok {
		if old == revision {
			return
		}
		r.revisionInfo.DeleteLabelValues(env, old)
	}
	r.revisions[env] = revision
	r.revisionInfo.WithLabelValues(env, revision).Set(1)
}

// Rollout records where a rollout stands: its wave (from 1) and the commit
// promoted to each environment of its later waves.
func (r *Recorder) Rollout(name string, wave int, promoted map[string]string) {
	r.rolloutWave.WithLabelValues(name).Set(float64(wave))
	r.mu.Lock()
	defer r.mu.Unlock()
	for env, commit := range promoted {
		key := name + "/" + env
		if old, ok := r.promoted[key]; ok {
			if old == commit {
				continue
			}
			r.rolloutRev.DeleteLabelValues(name, env, old)
		}
		r.promoted[key] = commit
		r.rolloutRev.WithLabelValues(name, env, commit).Set(1)
	}
}

// RolloutHalt counts one halt of a rollout.
func (r *Recorder) RolloutHalt(name string) { r.rolloutHalts.WithLabelValues(name).Inc() }

// RolloutGate counts one gate evaluation by result (pass, fail, error).
func (r *Recorder) RolloutGate(name, result string) {
	r.rolloutGates.WithLabelValues(name, result).Inc()
}

// CommitToDeploy records the time from a commit to its deployment.
func (r *Recorder) CommitToDeploy(env string, d time.Duration) {
	if d < 0 {
		d = 0
	}
	r.commitToDeploy.WithLabelValues(env).Observe(d.Seconds())
}

// Drift records what a sync found on a release: detected is drift found,
// corrected that the sync then restored it. The gauge says whether drift
// remains; the counter counts every detection, corrected or not, except a
// drift that remained from the sync before (warn mode sees it again).
func (r *Recorder) Drift(env, release, namespace string, detected, corrected bool) {
	remains := detected && !corrected
	v := 0.0
	if remains {
		v = 1
	}
	key := env + "\x00" + namespace + "\x00" + release
	r.mu.Lock()
	before := r.drifted[key]
	r.drifted[key] = remains
	r.mu.Unlock()
	r.releaseDrifted.WithLabelValues(env, release, namespace).Set(v)
	if detected && !before {
		r.driftDetected.WithLabelValues(env, release).Inc()
	}
}

// DriftFight counts one fight over a release's fields: another manager
// undid its drift corrections several times in a row.
func (r *Recorder) DriftFight(env, release string) {
	r.driftFights.WithLabelValues(env, release).Inc()
}

// Notification counts one notification by provider and result.
func (r *Recorder) Notification(provider, result string) {
	r.notifications.WithLabelValues(provider, result).Inc()
}

// ReleaseAction counts one Helm action on a release.
func (r *Recorder) ReleaseAction(env, release, action, result string) {
	r.releaseActions.WithLabelValues(env, release, action, result).Inc()
}

// ForgetRelease deletes every series of a release that no longer exists.
func (r *Recorder) ForgetRelease(env, release string) {
	m := prometheus.Labels{"environment": env, "release": release}
	r.releaseDrifted.DeletePartialMatch(m)
	r.driftDetected.DeletePartialMatch(m)
	r.driftFights.DeletePartialMatch(m)
	r.releaseActions.DeletePartialMatch(m)
	r.mu.Lock()
	defer r.mu.Unlock()
	for key := range r.drifted {
		if e, rest, _ := strings.Cut(key, "\x00"); e == env && strings.HasSuffix(rest, "\x00"+release) {
			delete(r.drifted, key)
		}
	}
}

// ForgetEnvironment deletes every series of an environment that is no
// longer served.
func (r *Recorder) ForgetEnvironment(env string) {
	m := prometheus.Labels{"environment": env}
	for _, v := range []interface {
		DeletePartialMatch(prometheus.Labels) int
	}{r.syncTotal, r.syncDuration, r.lastSuccess, r.releaseDrifted, r.driftDetected, r.driftFights, r.releaseActions,
		r.fetchTotal, r.fetchDuration, r.revisionInfo, r.commitToDeploy} {
		v.DeletePartialMatch(m)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.revisions, env)
	for key := range r.drifted {
		if strings.HasPrefix(key, env+"\x00") {
			delete(r.drifted, key)
		}
	}
}
