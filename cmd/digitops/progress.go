package main

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/digitops/digitops/reconciler"
)

// Release states the progress view shows.
const (
	stateWaiting  = "waiting"
	stateQueued   = "queued"
	stateApplying = "applying"
	stateReady    = "ready"
	stateFailed   = "failed"
	stateSkipped  = "skipped"
)

// progress shows an apply as it happens: on a terminal, one line per
// release redrawn in place with counts and elapsed time; otherwise one plain
// key=value line per event.
type progress struct {
	w     io.Writer
	tty   bool
	now   func() time.Time
	start time.Time

	mu    sync.Mutex
	rows  []*progressRow
	byKey map[string]*progressRow
	drawn int
	done  chan struct{}
	wg    sync.WaitGroup
}

type progressRow struct {
	namespace, name string
	action          reconciler.Action
	state           string
	started         time.Time
	elapsed         time.Duration
	revision        int
	detail          string
}

var _ reconciler.Progress = (*progress)(nil)

// newProgress prepares a view of the steps of plan that change something.
func newProgress(w io.Writer, tty bool, plan *reconciler.Plan, now func() time.Time) *progress {
	p := &progress{w: w, tty: tty, now: now, start: now(), byKey: map[string]*progressRow{}, done: make(chan struct{})}
	inPlan := map[string]bool{}
	for _, st := range plan.Steps {
		inPlan[st.Release.Name] = true
	}
	for _, st := range plan.Steps {
		if st.Action == reconciler.ActionNone || st.Action == reconciler.ActionSkip {
			continue
		}
		state := stateQueued
		for _, n := range st.Release.Needs {
			if inPlan[n] {
				state = stateWaiting
			}
		}
		r := &progressRow{namespace: st.Release.Namespace, name: st.Release.Name, action: st.Action, state: state}
		p.rows = append(p.rows, r)
		p.byKey[st.Release.Namespace+"/"+st.Release.Name] = r
	}
	if tty {
		p.draw()
		p.wg.Add(1)
		go p.tick()
	}
	return p
}

// tick redraws the terminal view every 200ms for the elapsed times.
func (p *progress) tick() {
	defer p.wg.Done()
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-p.done:
			return
		case <-t.C:
			p.mu.Lock()
			p.draw()
			p.mu.Unlock()
		}
	}
}

// Started implements reconciler.Progress.
func (p *progress) Started(step *reconciler.Step) {
	p.mu.Lock()
	defer p.mu.Unlock()
	r, ok := p.byKey[step.Release.Namespace+"/"+step.Release.Name]
	if !ok {
		return
	}
	r.state, r.started = stateApplying, p.now()
	p.event(r)
}

// Finished implements reconciler.Progress.
func (p *progress) Finished(res reconciler.ReleaseResult) {
	p.mu.Lock()
	defer p.mu.Unlock()
	r, ok := p.byKey[res.Namespace+"/"+res.Name]
	if !ok {
		return
	}
	switch res.Outcome {
	case reconciler.OutcomeSucceeded:
		r.state = stateReady
	case reconciler.OutcomeFailed:
		r.state = stateFailed
	default:
		r.state = stateSkipped
	}
	r.elapsed, r.revision, r.detail = res.Duration, res.RevisionAfter, res.Error
	p.event(r)
}

// event reports a change of r; the caller holds mu.
func (p *progress) event(r *progressRow) {
	if p.tty {
		p.draw()
		return
	}
	line := fmt.Sprintf("elapsed=%s release=%s/%s action=%s state=%s", p.now().Sub(p.start).Round(10*time.Millisecond), r.namespace, r.name, r.action, r.state)
	if r.state == stateReady && r.revision > 0 {
		line += fmt.Sprintf(" revision=%d", r.revision)
	}
	if r.state != stateApplying && r.elapsed > 0 {
		line += fmt.Sprintf(" duration=%s", r.elapsed.Round(time.Millisecond))
	}
	if r.detail != "" {
		line += fmt.Sprintf(" error=%q", r.detail)
	}
	fmt.Fprintln(p.w, line)
}

// counts returns the number of rows by state.
func (p *progress) counts() map[string]int {
	c := map[string]int{}
	for _, r := range p.rows {
		c[r.state]++
	}
	return c
}

// draw redraws the terminal view in place; the caller holds mu.
func (p *progress) draw() {
	var b strings.Builder
	if p.drawn > 0 {
		fmt.Fprintf(&b, "\x1b[%dA", p.drawn)
	}
	now := p.now()
	for _, r := range p.rows {
		mark, colour := "·", "\x1b[2m"
		var t time.Duration
		switch r.state {
		case stateApplying:
			mark, colour, t = "»", "\x1b[33m", now.Sub(r.started)
		case stateReady:
			mark, colour, t = "✓", "\x1b[32m", r.elapsed
		case stateFailed:
			mark, colour, t = "✗", "\x1b[31m", r.elapsed
		case stateSkipped:
			mark, colour = "-", "\x1b[2m"
		}
		state := r.state
		if state == stateWaiting {
			state = "waiting for dependencies"
		}
		line := fmt.Sprintf("%s %-14s %-40s %-24s", mark, r.action, r.namespace+"/"+r.name, state)
		if t > 0 {
			line += " " + t.Round(100*time.Millisecond).String()
		}
		fmt.Fprintf(&b, "\x1b[2K%s%s\x1b[0m\n", colour, line)
	}
	c := p.counts()
	fmt.Fprintf(&b, "\x1b[2K%d/%d ready, %d applying, %d waiting, %d failed, %d skipped · %s\n",
		c[stateReady], len(p.rows), c[stateApplying], c[stateWaiting]+c[stateQueued], c[stateFailed], c[stateSkipped], now.Sub(p.start).Round(100*time.Millisecond))
	p.drawn = len(p.rows) + 1
	io.WriteString(p.w, b.String())
}

// stop ends the view, drawing it one last time on a terminal.
func (p *progress) stop() {
	close(p.done)
	p.wg.Wait()
	if p.tty {
		p.mu.Lock()
		p.draw()
		p.mu.Unlock()
	}
}
