// Package metrics records what the digitops daemon does as Prometheus
// metrics, on a registry the caller owns (never the global one).
//
// # Series
//
// Every name starts with digitops_ and is in base units:
//
//	digitops_sync_total{environment,result}                      counter
//	digitops_sync_duration_seconds{environment}                  histogram
//	digitops_last_successful_sync_timestamp_seconds{environment} gauge
//	digitops_release_drifted{environment,release,namespace}      gauge, 0 or 1
//	digitops_drift_detected_total{environment,release}           counter
//	digitops_release_actions_total{environment,release,action,result} counter
//	digitops_source_fetch_total{environment,result}              counter
//	digitops_source_fetch_duration_seconds{environment}          histogram
//	digitops_source_revision_info{environment,revision}          gauge, always 1
//	digitops_commit_to_deploy_seconds{environment}               histogram
//
// Only digitops_source_revision_info carries a commit in a label, and it
// keeps one series per environment: recording a new revision deletes the
// old series. [Recorder.ForgetRelease] and [Recorder.ForgetEnvironment]
// delete the series of releases and environments that no longer exist, so
// dashboards do not show ghosts.
//
// # Results
//
// A sync's result is one of the Sync* constants; a fetch's is success or
// failure; a release action's is the reconciler outcome (succeeded, failed,
// skipped).
package metrics
