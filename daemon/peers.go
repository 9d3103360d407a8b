package daemon

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/digitops/digitops/daemon/shard"
	"github.com/digitops/digitops/internal/parallel"
	"github.com/digitops/digitops/internal/statusapi"
)

// Bounds of a status read from another replica.
const (
	peerTimeout      = 3 * time.Second
	maxPeerStatus    = 64 << 20
	peerStatusMaxAge = time.Second
)

// peerCache keeps the last statuses read from the other replicas, so that
// the rollouts, asking for one environment after another, read them once.
type peerCache struct {
	mu   sync.Mutex
	at   time.Time
	envs map[string]statusapi.Environment
	errs map[string]string // member identity → why it did not answer
}

// shardedEnvironments puts, in the statuses of every environment, the ones
// other replicas own as their owners report them; with local, it keeps
// only this replica's own.
func (d *Daemon) shardedEnvironments(ctx context.Context, all []statusapi.Environment, local bool) []statusapi.Environment {
	self := d.shard.Identity()
	out := make([]statusapi.Environment, 0, len(all))
	var remote map[string]statusapi.Environment
	var errs map[string]string
	if !local {
		remote, errs = d.peerStatuses(ctx)
	}
	for _, e := range all {
		if d.shard.Owns(e.Name) {
			e.Owner = self
			out = append(out, e)
			continue
		}
		if local {
			continue
		}
		if r, ok := remote[e.Name]; ok {
			out = append(out, r)
			continue
		}
		e.Owner = ""
		if owner, ok := d.shard.Owner(e.Name); ok {
			e.Owner = owner.Identity
			e.OwnerError = errs[owner.Identity]
			if e.OwnerError == "" {
				e.OwnerError = "replica " + owner.Identity + " did not report it"
			}
		} else {
			e.OwnerError = "no replica owns it right now (a hand-over is under way)"
		}
		e.Phase = statusapi.PhasePending
		out = append(out, e)
	}
	return out
}

// peerStatuses reads the environments each other live replica owns (GET
// /api/v1/status?scope=local), in parallel, each within peerTimeout;
// answers younger than peerStatusMaxAge are reused.
func (d *Daemon) peerStatuses(ctx context.Context) (map[string]statusapi.Environment, map[string]string) {
	c := &d.peers
	c.mu.Lock()
	defer c.mu.Unlock()
	if time.Since(c.at) < peerStatusMaxAge && c.envs != nil {
		return c.envs, c.errs
	}
	var members []shard.Member
	for _, m := range d.shard.Members() {
		if m.Identity != d.shard.Identity() {
			members = append(members, m)
		}
	}
	envs := map[string]statusapi.Environment{}
	errs := map[string]string{}
	var mu sync.Mutex
	parallel.ForEach(ctx, len(members), 8, func(ctx context.Context, i int) {
		m := members[i]
		st, err := d.peerStatus(ctx, m)
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			errs[m.Identity] = err.Error()
			return
		}
		for _, e := range st.Environments {
			if e.Owner == m.Identity {
				envs[e.Name] = e
			}
		}
	})
	c.at, c.envs, c.errs = time.Now(), envs, errs
	return envs, errs
}

// peerStatus reads one replica's own environments.
func (d *Daemon) peerStatus(ctx context.Context, m shard.Member) (statusapi.Status, error) {
	var st statusapi.Status
	if m.Address == "" {
		return st, fmt.Errorf("replica %s gave no address", m.Identity)
	}
	ctx, cancel := context.WithTimeout(ctx, peerTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, m.Address+"/api/v1/status?scope=local", nil)
	if err != nil {
		return st, fmt.Errorf("replica %s: bad address: %w", m.Identity, err)
	}
	resp, err := d.peerClient.Do(req)
	if err != nil {
		return st, fmt.Errorf("replica %s did not answer: %w", m.Identity, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return st, fmt.Errorf("replica %s answered %s", m.Identity, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxPeerStatus+1))
	if err != nil {
		return st, fmt.Errorf("replica %s: %w", m.Identity, err)
	}
	if len(body) > maxPeerStatus {
		return st, fmt.Errorf("replica %s: its status is over %d bytes", m.Identity, maxPeerStatus)
	}
	if err := json.Unmarshal(body, &st); err != nil {
		return st, fmt.Errorf("replica %s: unreadable status: %w", m.Identity, err)
	}
	return st, nil
}
