package gen

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

//go:embed all:skel
var skel embed.FS

// Names of things every generated repository has.
const (
	// DigitEnvironment is the digit-layout environment in digitops.yaml.
	DigitEnvironment = "bench"
	// HelmfileEnvironment is the helmfile-layout environment in digitops.yaml.
	HelmfileEnvironment = "bench-helmfile"
	// Namespace is where every release goes.
	Namespace = "egov"
	// ChartsDir is the charts directory, relative to the repository.
	ChartsDir = "deploy-as-code/helm/charts"
	// EnvFile is the environment file, relative to the repository.
	EnvFile = "deploy-as-code/helm/environments/bench.yaml"
	// ReleaseChart is the product release chart, relative to the repository.
	ReleaseChart = "config-as-code/product-release-charts/BENCH/release-chart.yaml"
	// Helmfile is the helmfile, relative to the repository.
	Helmfile = "deploy-as-code/helmfile.yaml"
	// DefaultServices is the number of services when Options.Services is 0.
	DefaultServices = 40

	businessModuleSize = 6
	imageOrg           = "egovio"
)

// Options say what to generate.
type Options struct {
	// Dir is the repository directory; it is created, and files in it are
	// overwritten.
	Dir string
	// Services is the number of services; 0 means DefaultServices.
	Services int
	// Tags overrides the image tag of services, by service name.
	Tags map[string]string
	// Replicas overrides the replicas key of services' sections of the
	// environment file, by service name (1 otherwise): one edited key of
	// the file every release gets whole.
	Replicas map[string]int
	// DisableAnnotationTimestamp leaves out the deployment-timestamp
	// pod-template annotation (DIGIT's disableAnnotationTimestamp).
	DisableAnnotationTimestamp bool
}

// Service is one generated service.
type Service struct {
	// Name is the service, chart, release and env-file section name.
	Name string
	// Module is the release-chart module the service belongs to.
	Module string
	// Tag is the image tag the release chart sets.
	Tag string
	// Chart is the chart directory, relative to the repository.
	Chart string
	// DBMigration says whether the chart runs a db-migration init container.
	DBMigration bool
	// Ingress says whether the chart renders an Ingress.
	Ingress bool
}

// Module is one module of the release chart.
type Module struct {
	// Name is the module name.
	Name string
	// Dependencies are the modules it depends on (transitively reduced).
	Dependencies []string
	// Services are the names of its services.
	Services []string
}

// Repo is a generated repository.
type Repo struct {
	// Dir is the repository directory.
	Dir string
	// Services in release-chart order.
	Services []Service
	// Modules in dependency order.
	Modules []Module
}

// Service returns the service with the given name.
func (r *Repo) Service(name string) (Service, bool) {
	for _, s := range r.Services {
		if s.Name == name {
			return s, true
		}
	}
	return Service{}, false
}

// Layout builds the repository's model without writing anything.
func Layout(opts Options) (*Repo, error) {
	n := opts.Services
	if n == 0 {
		n = DefaultServices
	}
	if n < 1 {
		return nil, fmt.Errorf("unable to generate %d services: need at least one", n)
	}
	for name := range opts.Tags {
		if !validTag(opts.Tags[name]) {
			return nil, fmt.Errorf("unable to use image tag %q for service %q: not a valid tag", opts.Tags[name], name)
		}
	}
	r := &Repo{Dir: opts.Dir}
	names := serviceNames(n)
	core := max(1, n/10)
	r.Modules = append(r.Modules, Module{Name: "core", Services: names[:core]})
	for i, k := core, 1; i < n; i, k = i+businessModuleSize, k+1 {
		m := Module{Name: fmt.Sprintf("m_%02d", k), Services: names[i:min(n, i+businessModuleSize)]}
		if k%3 == 0 || k == 1 {
			m.Dependencies = []string{"core"}
		} else {
			m.Dependencies = []string{fmt.Sprintf("m_%02d", k-1)}
		}
		r.Modules = append(r.Modules, m)
	}
	for mi, m := range r.Modules {
		group := "business"
		if mi == 0 {
			group = "core"
		}
		for _, name := range m.Services {
			i := len(r.Services)
			s := Service{
				Name:        name,
				Module:      m.Name,
				Tag:         defaultTag(i),
				Chart:       path.Join(ChartsDir, group, name),
				DBMigration: i%3 != 2,
				Ingress:     i%4 != 3,
			}
			if t, ok := opts.Tags[name]; ok {
				s.Tag = t
			}
			r.Services = append(r.Services, s)
		}
	}
	for name := range opts.Tags {
		if _, ok := r.Service(name); !ok {
			return nil, fmt.Errorf("unable to set the tag of service %q: no such service among %d", name, n)
		}
	}
	for name, v := range opts.Replicas {
		if _, ok := r.Service(name); !ok {
			return nil, fmt.Errorf("unable to set the replicas of service %q: no such service among %d", name, n)
		}
		if v < 0 {
			return nil, fmt.Errorf("unable to set the replicas of service %q to %d: negative", name, v)
		}
	}
	return r, nil
}

// Generate writes the repository described by opts and returns its model.
func Generate(ctx context.Context, opts Options) (*Repo, error) {
	if opts.Dir == "" {
		return nil, fmt.Errorf("unable to generate a repository: no directory given")
	}
	r, err := Layout(opts)
	if err != nil {
		return nil, err
	}
	w := writer{dir: opts.Dir}
	// The library chart, as it is.
	err = fs.WalkDir(skel, "skel/common", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := skel.ReadFile(p)
		if err != nil {
			return err
		}
		return w.write(path.Join(ChartsDir, strings.TrimPrefix(p, "skel/")), string(b))
	})
	if err != nil {
		return nil, fmt.Errorf("unable to write the common chart into %q: %w", opts.Dir, err)
	}
	tmpls, err := fs.ReadDir(skel, "skel/service/templates")
	if err != nil {
		return nil, err
	}
	for _, s := range r.Services {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		w.write(path.Join(s.Chart, "Chart.yaml"), chartYAML(s))
		w.write(path.Join(s.Chart, "values.yaml"), chartValues(s))
		for _, t := range tmpls {
			b, err := skel.ReadFile(path.Join("skel/service/templates", t.Name()))
			if err != nil {
				return nil, err
			}
			w.write(path.Join(s.Chart, "templates", t.Name()), string(b))
		}
	}
	w.write(EnvFile, envFile(r, opts))
	w.write(ReleaseChart, releaseChart(r))
	w.write(Helmfile, helmfile(r))
	w.write("digitops.yaml", digitopsYAML())
	if w.err != nil {
		return nil, fmt.Errorf("unable to write the repository %q: %w", opts.Dir, w.err)
	}
	return r, nil
}

// writer writes files under dir and keeps the first error.
type writer struct {
	dir string
	err error
}

func (w *writer) write(rel, content string) error {
	if w.err != nil {
		return w.err
	}
	p := filepath.Join(w.dir, filepath.FromSlash(rel))
	if w.err = os.MkdirAll(filepath.Dir(p), 0o755); w.err != nil {
		return w.err
	}
	w.err = os.WriteFile(p, []byte(content), 0o644)
	return w.err
}

// digitNames are real DIGIT service names; beyond them names get a suffix.
var digitNames = [...]string{
	"egov-mdms-service", "egov-user", "egov-accesscontrol", "egov-location", "egov-localization",
	"egov-idgen", "egov-enc-service", "egov-persister", "egov-indexer", "egov-notification-sms",
	"egov-notification-mail", "egov-filestore", "egov-workflow-v2", "egov-url-shortening", "egov-otp",
	"egov-pg-service", "egov-searcher", "egov-hrms", "egov-user-event", "egov-document-uploader",
	"pgr-services", "rainmaker-pgr", "collection-services", "billing-service", "egf-instrument",
	"egf-master", "property-services", "pt-calculator-v2", "tl-services", "tl-calculator",
	"firenoc-services", "firenoc-calculator", "bpa-services", "bpa-calculator", "ws-services",
	"ws-calculator", "sw-services", "sw-calculator", "echallan-services", "echallan-calculator",
}

func serviceNames(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = digitNames[i%len(digitNames)]
		if round := i / len(digitNames); round > 0 {
			out[i] = fmt.Sprintf("%s-%d", out[i], round+1)
		}
	}
	return out
}

// defaultTag is a DIGIT-style tag: version plus a short commit hash.
func defaultTag(i int) string {
	return fmt.Sprintf("v2.9.%d-%07x", i%7, (uint32(i)*2654435761)&0xfffffff)
}

func validTag(t string) bool {
	if t == "" || len(t) > 128 {
		return false
	}
	for _, c := range t {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
