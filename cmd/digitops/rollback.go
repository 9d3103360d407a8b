package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/digitops/digitops/internal/statusapi"
)

// rollbackTimeout is how long `digitops rollback` waits for the daemon:
// Helm's rollback runs the release's hooks.
const rollbackTimeout = 15 * time.Minute

// newRollbackCommand is `digitops rollback ENVIRONMENT RELEASE REVISION`:
// an operator's emergency rollback, through a running daemon's API.
func newRollbackCommand(s streams) *cobra.Command {
	o := &serverOptions{}
	cmd := &cobra.Command{
		Use:   "rollback ENVIRONMENT RELEASE REVISION",
		Short: "Roll a release back to an earlier Helm revision now, in a running daemon, and suspend it",
		Long: `rollback asks a running daemon for an emergency rollback: it suspends the
release (the next sync would otherwise undo the rollback), then has Helm roll it
back to REVISION. The release stays suspended, shown as rolled back, until
'digitops resume ENVIRONMENT RELEASE', after which the daemon syncs it to Git
again. 'digitops history' and Helm's history ('helm history') list the revisions.`,
		Example: `  digitops rollback egov-demo egov-user 3 --server http://digitops.digitops-system:8080`,
		Args:    cobra.ExactArgs(3),
		RunE: func(cmd *cobra.Command, args []string) error {
			env, release := args[0], args[1]
			to, err := strconv.Atoi(args[2])
			if err != nil || to < 1 {
				return fmt.Errorf("REVISION %q is not a Helm revision (a number from 1)", args[2])
			}
			body, err := json.Marshal(struct {
				Revision int `json:"revision"`
			}{to})
			if err != nil {
				return err
			}
			var d statusapi.ReleaseDetail
			path := "/api/v1/environments/" + url.PathEscape(env) + "/releases/" + url.PathEscape(release) + "/rollback"
			if err := o.send(cmd, http.MethodPost, path, body, rollbackTimeout, &d); err != nil {
				return err
			}
			fmt.Fprintf(s.out, "%s/%s: rolled back to revision %d", env, release, to)
			if len(d.Revisions) > 0 {
				fmt.Fprintf(s.out, " (Helm revision %d, %s)", d.Revisions[0].Revision, d.Revisions[0].Status)
			}
			fmt.Fprintf(s.out, "; suspended until `digitops resume %s %s`\n", env, release)
			return nil
		},
	}
	cmd.Flags().StringVar(&o.server, "server", "http://localhost:8080", "URL of the digitops daemon")
	cmd.Flags().StringVar(&o.token, "token", os.Getenv("DIGITOPS_API_TOKEN"), "API token (default $DIGITOPS_API_TOKEN)")
	return cmd
}
