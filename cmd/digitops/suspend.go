package main

import (
	"fmt"
	"net/http"
	"net/url"
	"os"

	"github.com/spf13/cobra"

	"github.com/digitops/digitops/internal/statusapi"
)

type serverOptions struct {
	server string
	token  string
}

// daemonVerb is a command that asks a running daemon to act on an
// environment, or one release of it.
type daemonVerb struct {
	name, short, done string
}

// daemonVerbs are suspend, resume, retry and sync.
func daemonVerbs() []daemonVerb {
	return []daemonVerb{
		{"suspend", "Stop syncing an environment, or one release of it, in a running daemon", "suspended"},
		{"resume", "Resume syncing a suspended environment or release", "resumed"},
		{"retry", "Try a failed environment or release again now, instead of after its backoff", "retry asked"},
		{"sync", "Sync an environment now, planning in full, in a running daemon", "sync asked"},
	}
}

// newDaemonVerbCommand builds one of daemonVerbs.
func newDaemonVerbCommand(s streams, v daemonVerb) *cobra.Command {
	o := &serverOptions{}
	cmd := &cobra.Command{
		Use:   v.name + " ENVIRONMENT [RELEASE]",
		Short: v.short,
		Example: fmt.Sprintf(`  digitops %[1]s egov-demo --server http://digitops.digitops-system:8080
  digitops %[1]s egov-demo egov-user --server http://localhost:8080`, v.name),
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			path, what := "/api/v1/environments/"+url.PathEscape(args[0]), args[0]
			if len(args) == 2 {
				path += "/releases/" + url.PathEscape(args[1])
				what += "/" + args[1]
			}
			env, err := o.post(cmd, path+"/"+v.name)
			if err != nil {
				return err
			}
			fmt.Fprintf(s.out, "%s: %s (environment phase %s)\n", what, v.done, env.Phase)
			return nil
		},
	}
	cmd.Flags().StringVar(&o.server, "server", "http://localhost:8080", "URL of the digitops daemon")
	cmd.Flags().StringVar(&o.token, "token", os.Getenv("DIGITOPS_API_TOKEN"), "API token (default $DIGITOPS_API_TOKEN)")
	return cmd
}

// post sends an API request and decodes the environment it returns.
func (o *serverOptions) post(cmd *cobra.Command, path string) (statusapi.Environment, error) {
	var env statusapi.Environment
	err := o.call(cmd, http.MethodPost, path, &env)
	return env, err
}
