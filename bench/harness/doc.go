// Package harness runs digitops's benchmarks: the same DIGIT-shaped
// environment (bench/gen), the same scenarios and the same real control
// plane (internal/testenv) for every tool, measured the same way.
//
// # Tools
//
//   - digitops: `digitops apply` of the digit-layout environment.
//   - helmfile: `helmfile sync` of the helmfile layout, driving the helm v3
//     CLI (helmfile apply/diff need the helm-diff plugin, which cannot be
//     installed here, so they are not measured).
//   - deployer: DIGIT's Go deployer's way, `helm template | kubectl apply`
//     per service, in release-chart order.
//   - floor: one server-side apply of every rendered object of the scenario
//     (plus a Helm-shaped release Secret per release), with no discovery,
//     no rendering and no reads: the work the API server cannot be spared.
//   - render-floor: the floor's cold install with the render inside the
//     measured time: the environment loaded, every release rendered by
//     Helm's engine in-process on GOMAXPROCS workers, then the floor's
//     applies. Its cold figure is what any tool that installs Helm
//     releases must do, so digitops's cold time over it is what digitops
//     adds. It runs cold only (see renderFloorTool.command).
//
// Every tool runs as a child process, so its wall time, peak RSS and CPU
// time come from wait4's rusage (peak RSS is that of the largest single
// process of the tree, not a sum).
//
// # Scenarios
//
// For each run a fresh control plane is started and a fresh copy of the
// repository generated, then: cold (install all), noop (nothing changed),
// image (one service's tag changed), drift (one Deployment scaled by hand,
// as `kubectl scale` would, then a sync; whether the tool put it back is
// recorded), env (one key of one service's section of the environment
// file edited, its replicas: every release's values change, one render
// does; for digitops, one render pass of the environment is timed too, the
// budget of this scenario over a no-op, and then the same pass on
// GOMAXPROCS workers, a second budget reported beside it). Tools are
// interleaved run by run so that the load of a shared machine falls on all
// of them alike.
//
// # Measurements
//
// Around each tool run the harness reads kube-apiserver's own /metrics
// (apiserver_request_total, by verb, dry-run counted apart, leases left out
// since the API server renews its own) and the CPU time of the
// kube-apiserver and etcd processes from /proc/<pid>/stat. Outside that
// window it reads, as metadata, Helm's release Secrets (owner=helm: new
// revisions are how far each release's highest one moved) and the
// Deployments (pod templates changed).
//
// # Experiments
//
// bench -hold keeps the last control plane of the large configuration (of
// the main one with -big 0) up after its runs and logs the kubeconfig, the
// repository and the tool's command line, until interrupted: repeated
// no-op experiments at N=500 then cost one cold install, not one each.
// -services 0 skips the main configuration. Run experimental digitops
// builds under the same file name as the one that installed (Helm's field
// manager is the binary's name, so another name finds every field drifted).
package harness
