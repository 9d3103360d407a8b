package testenv

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// Versions of the control plane, which key the cache directory.
const (
	KubernetesVersion = "v1.37.2"
	EtcdVersion       = "v3.7.3"
	KwokVersion       = "v0.8.0"
)

// BuildCommand is the command that builds the binaries.
const BuildCommand = "hack/testenv/build.sh --extras   (or: make testenv)"

// Options adjust the control plane.
type Options struct {
	// Extras also starts kube-controller-manager, kube-scheduler and kwok
	// with one fake node, so that Deployments and their pods become Ready.
	Extras bool
	// Dir holds the kubeconfig and logs; empty means a new temporary dir.
	Dir string
}

// Env is a running control plane.
type Env struct {
	// Config is an admin REST config.
	Config *rest.Config
	// Kubeconfig is an admin kubeconfig file for Helm and kubectl.
	Kubeconfig string
	// Dir holds the kubeconfig and the process logs.
	Dir string
	// BinDir holds the binaries (kubectl among them).
	BinDir string

	env     *envtest.Environment
	procs   []*exec.Cmd
	tempDir bool
}

// BinDir returns the directory with the control-plane binaries, or an error
// saying how to build them. DIGITOPS_TESTENV_DIR overrides the cache root.
func BinDir(extras bool) (string, error) {
	root := os.Getenv("DIGITOPS_TESTENV_DIR")
	if root == "" {
		cache := os.Getenv("XDG_CACHE_HOME")
		if cache == "" {
			home, err := os.UserHomeDir()
			if err != nil {
				return "", err
			}
			cache = filepath.Join(home, ".cache")
		}
		root = filepath.Join(cache, "digitops", "testenv")
	}
	dir := filepath.Join(root, fmt.Sprintf("k8s-%s-etcd-%s-kwok-%s", KubernetesVersion, EtcdVersion, KwokVersion))
	need := []string{"kube-apiserver", "etcd", "kubectl"}
	if extras {
		need = append(need, "kube-controller-manager", "kube-scheduler", "kwok", "kwok-stages.yaml")
	}
	for _, n := range need {
		if _, err := os.Stat(filepath.Join(dir, n)); err != nil {
			return "", fmt.Errorf("control-plane binary %s is missing from %s: build it with %s", n, dir, BuildCommand)
		}
	}
	return dir, nil
}

// Start starts a control plane. Stop it with Stop, also on error paths.
func Start(ctx context.Context, opts Options) (*Env, error) {
	bin, err := BinDir(opts.Extras)
	if err != nil {
		return nil, err
	}
	e := &Env{BinDir: bin, Dir: opts.Dir}
	if e.Dir == "" {
		if e.Dir, err = os.MkdirTemp("", "digitops-testenv-"); err != nil {
			return nil, err
		}
		e.tempDir = true
	} else if err := os.MkdirAll(e.Dir, 0o755); err != nil {
		return nil, err
	}
	e.env = &envtest.Environment{BinaryAssetsDirectory: bin, ControlPlaneStartTimeout: time.Minute}
	if _, err := e.env.Start(); err != nil {
		_ = e.Stop()
		return nil, fmt.Errorf("unable to start kube-apiserver and etcd from %s: %w", bin, err)
	}
	user, err := e.env.AddUser(envtest.User{Name: "digitops-admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		_ = e.Stop()
		return nil, fmt.Errorf("unable to create the admin user: %w", err)
	}
	e.Config = user.Config()
	kc, err := user.KubeConfig()
	if err != nil {
		_ = e.Stop()
		return nil, err
	}
	e.Kubeconfig = filepath.Join(e.Dir, "kubeconfig")
	if err := os.WriteFile(e.Kubeconfig, kc, 0o600); err != nil {
		_ = e.Stop()
		return nil, err
	}
	if opts.Extras {
		if err := e.startExtras(ctx); err != nil {
			_ = e.Stop()
			return nil, err
		}
	}
	return e, nil
}

// nodeLeaseDuration is the fake node's Lease duration (kwok renews it every
// quarter of it); nodeGracePeriod how long the node-lifecycle controller
// waits for a renewal before it declares the node NotReady.
const (
	nodeLeaseDuration = 8 * time.Second
	nodeGracePeriod   = 12 * time.Second
)

// startExtras starts the controllers, the scheduler and kwok with a node.
func (e *Env) startExtras(ctx context.Context) error {
	kc := "--kubeconfig=" + e.Kubeconfig
	procs := []struct {
		name string
		args []string
	}{
		// The node-lifecycle controller declares a node NotReady when its
		// Lease in kube-node-lease is not renewed within the grace period:
		// kwok renews the fake node's (every lease duration / 4), and the
		// short periods make a missing heartbeat show in seconds, not in
		// the minute after which a demo's pods all turned NotReady.
		{"kube-controller-manager", []string{kc, "--controllers=deployment,replicaset,statefulset,job,namespace,garbagecollector,nodelifecycle",
			"--leader-elect=false", "--secure-port=0", "--concurrent-deployment-syncs=10", "--concurrent-replicaset-syncs=10",
			"--node-monitor-period=2s", "--node-monitor-grace-period=" + nodeGracePeriod.String()}},
		{"kube-scheduler", []string{kc, "--leader-elect=false", "--secure-port=0"}},
		{"kwok", []string{kc, "--config=" + filepath.Join(e.BinDir, "kwok-stages.yaml"),
			"--manage-all-nodes=false", "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
			"--cidr=127.1.0.0/16", "--node-ip=127.0.0.1", "--server-address=",
			fmt.Sprintf("--node-lease-duration-seconds=%d", int(nodeLeaseDuration.Seconds()))}},
	}
	for _, p := range procs {
		if err := e.startProcess(p.name, p.args); err != nil {
			return err
		}
	}
	cs, err := kubernetes.NewForConfig(e.Config)
	if err != nil {
		return err
	}
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name:        "kwok-node-0",
			Annotations: map[string]string{"kwok.x-k8s.io/node": "fake"},
			Labels:      map[string]string{"type": "kwok", "kubernetes.io/hostname": "kwok-node-0"},
		},
		Status: corev1.NodeStatus{
			Allocatable: corev1.ResourceList{"cpu": mustQuantity("1000"), "memory": mustQuantity("1Ti"), "pods": mustQuantity("10000")},
			Capacity:    corev1.ResourceList{"cpu": mustQuantity("1000"), "memory": mustQuantity("1Ti"), "pods": mustQuantity("10000")},
		},
	}
	if _, err := cs.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("unable to create the kwok node: %w", err)
	}
	// Wait for kwok to report the node Ready.
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		n, err := cs.CoreV1().Nodes().Get(ctx, node.Name, metav1.GetOptions{})
		if err == nil {
			for _, c := range n.Status.Conditions {
				if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
					return nil
				}
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	return fmt.Errorf("kwok did not make node %s Ready within a minute; see the logs in %s", node.Name, e.Dir)
}

func (e *Env) startProcess(name string, args []string) error {
	logFile, err := os.Create(filepath.Join(e.Dir, name+".log"))
	if err != nil {
		return err
	}
	cmd := exec.Command(filepath.Join(e.BinDir, name), args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// The children die with us, even when we are killed.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return fmt.Errorf("unable to start %s: %w", name, err)
	}
	e.procs = append(e.procs, cmd)
	return nil
}

// Stop stops every process and removes the temporary directory.
func (e *Env) Stop() error {
	var errs []error
	for i := len(e.procs) - 1; i >= 0; i-- {
		p := e.procs[i]
		_ = p.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = p.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = p.Process.Kill()
			<-done
		}
	}
	e.procs = nil
	if e.env != nil {
		if err := e.env.Stop(); err != nil {
			errs = append(errs, err)
		}
	}
	if e.tempDir {
		errs = append(errs, os.RemoveAll(e.Dir))
	}
	return errors.Join(errs...)
}
