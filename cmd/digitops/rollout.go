package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/digitops/digitops/internal/statusapi"
)

// newRolloutCommand is `digitops rollout status|promote|pause|resume|abort`,
// through a running daemon's API.
func newRolloutCommand(s streams) *cobra.Command {
	o := &serverOptions{}
	cmd := &cobra.Command{
		Use:   "rollout status|promote|pause|resume|abort [ROLLOUT]",
		Short: "Show or act on the rollouts of a running daemon",
		Long: `rollout status shows every rollout of a running daemon (or the one named): the
revision being rolled out, the wave it reached, the commit each environment runs, the soak
time left, halted or paused.

promote takes the revision to the next wave now (past a soak, a gate or a halt); pause holds
promotions until resume; abort halts the rollout where it is (the next revision starts it
again at the first wave). They need the daemon's API token.`,
		Example: `  digitops rollout status --server http://digitops.digitops-system:8080
  digitops rollout promote egov --server http://localhost:8080`,
		Args:      cobra.RangeArgs(1, 2),
		ValidArgs: []string{"status", "promote", "pause", "resume", "abort"},
		RunE: func(cmd *cobra.Command, args []string) error {
			verb := args[0]
			if verb == "status" {
				var all []statusapi.Rollout
				if err := o.call(cmd, http.MethodGet, "/api/v1/rollouts", &all); err != nil {
					return err
				}
				shown := 0
				for _, r := range all {
					if len(args) == 2 && r.Name != args[1] {
						continue
					}
					printRollout(s.out, r)
					shown++
				}
				if shown == 0 && len(args) == 2 {
					return fmt.Errorf("no rollout %q", args[1])
				}
				if shown == 0 {
					fmt.Fprintln(s.out, "no rollouts")
				}
				return nil
			}
			switch verb {
			case "promote", "pause", "resume", "abort":
			default:
				return fmt.Errorf("unknown rollout command %q (want status, promote, pause, resume or abort)", verb)
			}
			if len(args) != 2 {
				return fmt.Errorf("rollout %s needs the rollout's name", verb)
			}
			var r statusapi.Rollout
			if err := o.call(cmd, http.MethodPost, "/api/v1/rollouts/"+url.PathEscape(args[1])+"/"+verb, &r); err != nil {
				return err
			}
			printRollout(s.out, r)
			return nil
		},
	}
	cmd.Flags().StringVar(&o.server, "server", "http://localhost:8080", "URL of the digitops daemon")
	cmd.Flags().StringVar(&o.token, "token", os.Getenv("DIGITOPS_API_TOKEN"), "API token (default $DIGITOPS_API_TOKEN)")
	return cmd
}

// printRollout writes one rollout for people.
func printRollout(w io.Writer, r statusapi.Rollout) {
	fmt.Fprintf(w, "rollout %s: %s\n", r.Name, r.Summary)
	if r.Error != "" {
		fmt.Fprintf(w, "  error: %s\n", r.Error)
	}
	if r.GateError != "" {
		fmt.Fprintf(w, "  gate: %s\n", r.GateError)
	}
	for i, wave := range r.Waves {
		var envs []string
		for _, e := range wave.Environments {
			at := "head"
			if e.Commit != "" {
				at = e.Commit[:min(7, len(e.Commit))]
			}
			envs = append(envs, fmt.Sprintf("%s@%s (%s)", e.Name, at, e.Phase))
		}
		marker := " "
		if i+1 == r.Wave {
			marker = ">"
		}
		extra := ""
		if wave.Soak != "" {
			extra += " soak " + wave.Soak
		}
		if wave.Gate != "" {
			extra += " gate " + wave.Gate
		}
		fmt.Fprintf(w, " %s wave %d: %s%s\n", marker, i+1, strings.Join(envs, ", "), extra)
	}
}

// call sends an API request and decodes its JSON answer into out.
func (o *serverOptions) call(cmd *cobra.Command, method, path string, out any) error {
	return o.send(cmd, method, path, nil, 30*time.Second, out)
}

// send sends an API request with a JSON body (none when nil), waits for
// its answer at most timeout, and decodes it into out.
func (o *serverOptions) send(cmd *cobra.Command, method, path string, body []byte, timeout time.Duration, out any) error {
	var in io.Reader
	if body != nil {
		in = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(cmd.Context(), method, strings.TrimSuffix(o.server, "/")+path, in)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if o.token != "" {
		req.Header.Set("Authorization", "Bearer "+o.token)
	}
	resp, err := (&http.Client{Timeout: timeout}).Do(req)
	if err != nil {
		return fmt.Errorf("unable to reach the daemon at %q: %w", o.server, err)
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("daemon answered %s: %s", resp.Status, strings.TrimSpace(string(answer)))
	}
	if err := json.Unmarshal(answer, out); err != nil {
		return fmt.Errorf("unable to read the daemon's answer: %w", err)
	}
	return nil
}
