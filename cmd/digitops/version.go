package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

func newVersionCommand(s streams) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the digitops version and the versions it is built with",
		Long: `version prints, on its first line, the digitops version and the build's Git
revision, then the versions that matter for support: Go, the Helm SDK and the
Kubernetes client.`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			info, _ := debug.ReadBuildInfo()
			printVersion(s.out, version, info)
			return nil
		},
	}
}

// printVersion writes the version report of a build (info may be nil: a
// binary without build information).
func printVersion(w io.Writer, v string, info *debug.BuildInfo) {
	revision, modified := "unknown", ""
	deps := map[string]string{}
	if info != nil {
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				revision = s.Value
				if len(revision) > 12 {
					revision = revision[:12]
				}
			case "vcs.modified":
				if s.Value == "true" {
					modified = ", modified"
				}
			}
		}
		for _, d := range info.Deps {
			if d.Replace != nil {
				d = d.Replace
			}
			deps[d.Path] = d.Version
		}
	}
	dep := func(path string) string {
		if v := deps[path]; v != "" {
			return v
		}
		return "unknown"
	}
	fmt.Fprintf(w, "digitops %s (revision %s%s)\n", v, revision, modified)
	fmt.Fprintf(w, "  go:                %s %s/%s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
	fmt.Fprintf(w, "  helm SDK:          %s\n", dep("helm.sh/helm/v3"))
	fmt.Fprintf(w, "  kubernetes client: %s\n", dep("k8s.io/client-go"))
}
