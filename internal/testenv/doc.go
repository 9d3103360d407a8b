// Package testenv starts and stops the real Kubernetes control plane that
// digitops's tests and demo run against: kube-apiserver and etcd (through
// controller-runtime's envtest), and on request kube-controller-manager,
// kube-scheduler and kwok, so that Deployments become Ready on a fake node.
//
// The binaries are built from the Go module proxy by hack/testenv/build.sh into
// a cache directory keyed by their versions; [BinDir] finds it and, when they
// are missing, says which command builds them.
//
//	env, err := testenv.Start(ctx, testenv.Options{Extras: true})
//	defer env.Stop()
//	// env.Config is a *rest.Config, env.Kubeconfig a file Helm can use.
package testenv
