package reconciler

import (
	"context"
	"fmt"
	"sync"

	"github.com/digitops/digitops/internal/redact"
	"github.com/digitops/digitops/reconciler/drift"
	"github.com/digitops/digitops/reconciler/kube"
	"github.com/digitops/digitops/source/manifest"
)

// DecideDrift turns the drift found on an otherwise unchanged release into a
// decision. It is pure. In mode correct a drifted release is corrected; in
// mode warn it is left alone and the reason says it drifted.
func DecideDrift(mode manifest.DriftMode, items []drift.Item) Decision {
	if len(items) == 0 {
		return Decision{ActionNone, "unchanged"}
	}
	objects := map[string]bool{}
	for _, it := range items {
		objects[it.Object] = true
	}
	what := fmt.Sprintf("%d drift item(s) on %d object(s)", len(items), len(objects))
	if mode == manifest.DriftWarn {
		return Decision{ActionNone, "drifted: " + what + " (drift: warn, not corrected)"}
	}
	return Decision{ActionCorrectDrift, "drifted: " + what}
}

// checkDrift looks for drift on a release whose digests say unchanged and,
// when it finds some, records it on the step as drifted. A failure to look
// is a plan note (and the step's DriftError), not an error: the other
// releases still get planned.
func (p *Planner) checkDrift(ctx context.Context, env *manifest.Environment, step *Step) (note string) {
	items, err := p.Drift.Detect(ctx, step.Release, step.Live, env.Policy)
	if err != nil {
		step.DriftError = redact.Secrets(err.Error(), step.Release.SecretValues)
		return redact.Secrets(fmt.Sprintf("release %s: drift not checked: %v", step.Release.Name, err), step.Release.SecretValues)
	}
	if len(items) > 0 {
		step.observe(Observation{Status: StatusDrifted, Reason: step.Reason, Drift: items}, env.Policy.Drift)
	}
	return ""
}

// driftWorkers bounds the releases checked for drift at once: each check is
// a few GETs, so latency, not the apiserver, is what parallelism hides.
const driftWorkers = 8

// checkDriftAll checks every unchanged release for drift, several at once,
// and records the notes in release order and the requests made.
func (p *Planner) checkDriftAll(ctx context.Context, env *manifest.Environment, plan *Plan) {
	if p.Drift == nil || env.Policy.Drift == manifest.DriftOff {
		return
	}
	var todo []int
	for i := range plan.Steps {
		if st := &plan.Steps[i]; st.Live != nil && st.Status == StatusInSync {
			todo = append(todo, i)
		}
	}
	if len(todo) == 0 {
		return
	}
	before := p.Drift.Requests()
	lives := make([]*kube.LiveRelease, len(todo))
	for j, i := range todo {
		lives[j] = plan.Steps[i].Live
	}
	p.Drift.Prefetch(ctx, lives)
	notes := make([]string, len(plan.Steps))
	next := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < min(driftWorkers, len(todo)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				notes[i] = p.checkDrift(ctx, env, &plan.Steps[i])
			}
		}()
	}
	for _, i := range todo {
		next <- i
	}
	close(next)
	wg.Wait()
	for _, n := range notes {
		if n != "" {
			plan.Notes = append(plan.Notes, n)
		}
	}
	plan.APIRequests += int(p.Drift.Requests() - before)
}
