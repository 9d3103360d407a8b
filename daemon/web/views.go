package web

import (
	"cmp"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/digitops/digitops/daemon/history"
	"github.com/digitops/digitops/internal/statusapi"
)

// The console's views are built here from what the Backend answers, by
// pure functions of their inputs and a clock (tested without a server);
// console.go only fetches, picks the template and writes.

// phases are the phases in the order the console lists them, worst first
// ([statusapi.Phase.Worse]).
var phases = []statusapi.Phase{statusapi.PhaseFailing, statusapi.PhaseDrifted, statusapi.PhaseOutOfSync,
	statusapi.PhasePending, statusapi.PhaseSuspended, statusapi.PhaseInSync}

// PhaseColor is the badge colour of a phase in the console. Tests look for
// it in screenshots.
func PhaseColor(p statusapi.Phase) string {
	switch p {
	case statusapi.PhaseInSync:
		return "#1a7f37"
	case statusapi.PhaseDrifted:
		return "#f59e0b"
	case statusapi.PhaseFailing:
		return "#d1242f"
	case statusapi.PhaseOutOfSync:
		return "#0969da"
	case statusapi.PhasePending:
		return "#8250df"
	case statusapi.PhaseSuspended:
		return "#6e7781"
	}
	return ""
}

// knownPhase returns p when it is a phase, "" otherwise (a filter on an
// unknown phase filters nothing).
func knownPhase(p string) statusapi.Phase {
	for _, q := range phases {
		if string(q) == p {
			return q
		}
	}
	return ""
}

// page is what every view's layout shows: who answered, the banners, the
// clock the ages are computed against.
type page struct {
	// Title is the document's title; View names the view for the script
	// (overview, environment, release).
	Title, View string
	// Env and Release are what the view shows, for the script's live
	// updates; empty on the overview.
	Env, Release  string
	Leader, Ready bool
	Replica       string
	// Banners are the releases held by an operator: suspended, or under
	// an emergency rollback.
	Banners []banner
	Now     time.Time
}

// banner is one release held by an operator: suspended (an emergency
// rollback suspends it too) or, when To is set, rolled back.
type banner struct {
	Env, Release string
	// To and At are the emergency rollback's, when known (the release
	// view reads them); zero on the other views.
	To int
	At time.Time
	// Now is the view's clock.
	Now time.Time
}

// newPage is the layout's part of a view of st.
func newPage(st statusapi.Status, now time.Time, title, view string) page {
	p := page{Title: title, View: view, Leader: st.Leader, Ready: st.Ready, Replica: st.Replica, Now: now}
	for _, e := range st.Environments {
		for _, r := range e.Releases {
			if r.Suspended {
				p.Banners = append(p.Banners, banner{Env: e.Name, Release: r.Name, Now: now})
			}
		}
	}
	return p
}

// rolledBack marks the banner of env's release as an emergency rollback
// to rb.To, adding it when the status did not show the release suspended.
func (p *page) rolledBack(env, release string, rb statusapi.RolledBack) {
	for i, b := range p.Banners {
		if b.Env == env && b.Release == release {
			p.Banners[i].To, p.Banners[i].At = rb.To, rb.At
			return
		}
	}
	p.Banners = append(p.Banners, banner{Env: env, Release: release, To: rb.To, At: rb.At, Now: p.Now})
}

// phaseCount is how many environments or releases have a phase.
type phaseCount struct {
	Phase statusapi.Phase
	N     int
}

// countPhases counts ps by phase, worst first, leaving out the phases
// none has.
func countPhases(ps []statusapi.Phase) []phaseCount {
	n := map[statusapi.Phase]int{}
	for _, p := range ps {
		n[p]++
	}
	var out []phaseCount
	for _, p := range phases {
		if n[p] > 0 {
			out = append(out, phaseCount{Phase: p, N: n[p]})
		}
	}
	return out
}

// filter is a view's filter by name and phase (?q=&phase=), and on the
// environment view its order (?sort=phase; plan order otherwise).
type filter struct {
	Query string
	Phase statusapi.Phase
	Sort  string
}

// Active reports whether the filter hides anything.
func (f filter) Active() bool { return f.Query != "" || f.Phase != "" }

// matches reports whether a row named name (or namespace) with phase
// passes f: the query is a case-insensitive substring.
func (f filter) matches(phase statusapi.Phase, names ...string) bool {
	if f.Phase != "" && phase != f.Phase {
		return false
	}
	if f.Query == "" {
		return true
	}
	q := strings.ToLower(f.Query)
	for _, n := range names {
		if strings.Contains(strings.ToLower(n), q) {
			return true
		}
	}
	return false
}

// parseFilter reads a filter from a request's query.
func parseFilter(q url.Values) filter {
	f := filter{Query: strings.TrimSpace(q.Get("q")), Phase: knownPhase(q.Get("phase"))}
	if q.Get("sort") == "phase" {
		f.Sort = "phase"
	}
	return f
}

// overview is the view of every environment and rollout (GET /).
type overview struct {
	page
	Filter filter
	// Shown counts the rows the filter shows, of all the environments.
	Shown        int
	Counts       []phaseCount
	Sources      []statusapi.Source
	Rollouts     []statusapi.Rollout
	Environments []envRow
}

// envRow is an environment in the overview.
type envRow struct {
	statusapi.Environment
	// Hidden is set when the filter hides the row (it is sent, so that
	// the script can filter without asking again).
	Hidden bool
	issues
	// ReleaseCounts counts its releases by phase.
	ReleaseCounts []phaseCount
	// Now is the view's clock, for the row's ages.
	Now time.Time
}

// issues are the badges of an environment: drift, errors, warnings and
// suspended releases.
type issues struct {
	// Drifted counts the releases with drift items, DriftItems the items.
	Drifted, DriftItems int
	// Errors counts the releases in error, and the sync's error.
	Errors int
	// Held counts the suspended releases.
	Held int
}

func issuesOf(e statusapi.Environment) issues {
	var is issues
	if e.LastError != "" {
		is.Errors++
	}
	for _, r := range e.Releases {
		if len(r.Drift) > 0 {
			is.Drifted++
			is.DriftItems += len(r.Drift)
		}
		if r.Error != "" || r.Phase == statusapi.PhaseFailing {
			is.Errors++
		}
		if r.Suspended {
			is.Held++
		}
	}
	return is
}

// newOverview is the overview of st, filtered by f.
func newOverview(st statusapi.Status, f filter, now time.Time) overview {
	v := overview{page: newPage(st, now, "digitops", "overview"), Filter: f, Rollouts: st.Rollouts}
	var ps []statusapi.Phase
	for _, s := range st.Sources {
		if s.Error != "" {
			v.Sources = append(v.Sources, s)
		}
	}
	for _, e := range st.Environments {
		ps = append(ps, e.Phase)
		row := envRow{Environment: e, Hidden: !f.matches(e.Phase, e.Name), issues: issuesOf(e), Now: now}
		var rs []statusapi.Phase
		for _, r := range e.Releases {
			rs = append(rs, r.Phase)
		}
		row.ReleaseCounts = countPhases(rs)
		if !row.Hidden {
			v.Shown++
		}
		v.Environments = append(v.Environments, row)
	}
	v.Counts = countPhases(ps)
	return v
}

// environmentView is the view of one environment
// (GET /environments/{env}).
type environmentView struct {
	page
	Environment statusapi.Environment
	issues
	Filter filter
	// Shown counts the releases the filter shows.
	Shown    int
	Releases []releaseRow
	// Pending is the plan's pending changes; PlanError says why they
	// could not be had (the status-only parts are shown).
	Pending   []statusapi.PendingChange
	PlanError string
	// History is the environment's sync history, HistoryError why it
	// could not be had.
	History      history.Document
	HistoryError string
}

// releaseRow is a release in the environment view.
type releaseRow struct {
	statusapi.Release
	// Order is its place in the plan's order (from 1).
	Order  int
	Hidden bool
}

// newEnvironmentView is env's view: its status row from st (the detail's
// when it could be had: detailErr nil), its pending changes and its
// history.
func newEnvironmentView(st statusapi.Status, env statusapi.Environment, detail *statusapi.EnvironmentDetail, detailErr error,
	doc history.Document, historyErr error, f filter, now time.Time) environmentView {
	v := environmentView{page: newPage(st, now, env.Name+" · digitops", "environment"), Filter: f}
	v.Env = env.Name
	if detailErr == nil && detail != nil {
		env = detail.Environment
		v.Pending = detail.Pending
	} else if detailErr != nil {
		v.PlanError = detailErr.Error()
	}
	v.Environment, v.issues = env, issuesOf(env)
	for i, r := range env.Releases {
		row := releaseRow{Release: r, Order: i + 1, Hidden: !f.matches(r.Phase, r.Name, r.Namespace)}
		if !row.Hidden {
			v.Shown++
		}
		v.Releases = append(v.Releases, row)
	}
	if f.Sort == "phase" {
		slices.SortStableFunc(v.Releases, func(a, b releaseRow) int { return comparePhases(a.Phase, b.Phase) })
	}
	if historyErr != nil {
		v.HistoryError = historyErr.Error()
	} else {
		v.History = doc
	}
	return v
}

// comparePhases orders phases worst first.
func comparePhases(a, b statusapi.Phase) int {
	return cmp.Compare(slices.Index(phases, a), slices.Index(phases, b))
}

// releaseView is the view of one release
// (GET /environments/{env}/releases/{release}).
type releaseView struct {
	page
	Environment string
	// Detail is the release's detail; when it could not be had, DetailError
	// says why and Detail holds only the status row.
	Detail      statusapi.ReleaseDetail
	DetailError string
	// Earlier are the Helm revisions an operator may roll back to: every
	// revision but the live one, newest first.
	Earlier []statusapi.HelmRevision
	// History is the syncs that acted on the release.
	History      history.Document
	HistoryError string
}

// newReleaseView is the view of a release of env whose status row is row.
func newReleaseView(st statusapi.Status, env string, row statusapi.Release, detail *statusapi.ReleaseDetail, detailErr error,
	doc history.Document, historyErr error, now time.Time) releaseView {
	v := releaseView{page: newPage(st, now, row.Name+" · "+env+" · digitops", "release"), Environment: env}
	v.Env, v.Release = env, row.Name
	switch {
	case detailErr != nil:
		v.DetailError = detailErr.Error()
		v.Detail = statusapi.ReleaseDetail{Environment: env, Release: row}
	case detail != nil:
		v.Detail = *detail
	}
	live := v.Detail.Release.Revision
	for _, r := range v.Detail.Revisions {
		if r.Revision != live {
			v.Earlier = append(v.Earlier, r)
		}
	}
	if rb := v.Detail.RolledBack; rb != nil {
		v.rolledBack(env, row.Name, *rb)
	}
	if historyErr != nil {
		v.HistoryError = historyErr.Error()
	} else {
		// The release's own errors, as digitops history RELEASE prints
		// them: a sync's error names other releases.
		v.History = doc
		v.History.Entries = slices.Clone(doc.Entries)
		for i := range v.History.Entries {
			v.History.Entries[i].Error = ""
		}
	}
	return v
}

// shortCommit is a revision as the console shows it: the commit cut to 7
// hex digits ("0123456"), a directory's digest likewise ("dir:89ab012"),
// "" for none.
func shortCommit(revision, commit string) string {
	if commit != "" {
		return commit[:min(7, len(commit))]
	}
	if i := strings.LastIndex(revision, "sha1:"); i >= 0 {
		c := revision[i+5:]
		return c[:min(7, len(c))]
	}
	if d, ok := strings.CutPrefix(revision, "dir:"); ok {
		return "dir:" + d[:min(7, len(d))]
	}
	return revision
}

// refOf is the branch or tag of a revision ("main" of main@sha1:…), ""
// when it names none.
func refOf(revision string) string {
	ref, _, ok := strings.Cut(revision, "@sha1:")
	if !ok {
		return ""
	}
	return ref
}

// age says how long ago t was, coarsely so that it reads at a glance and
// the script, which updates it, says the same: "just now", "5m ago",
// "3h12m ago", "4d ago"; a time to come is "in 5m".
func age(now, t time.Time) string {
	d := now.Sub(t)
	if d < 0 {
		if -d < time.Minute {
			return "in <1m"
		}
		return "in " + span(-d)
	}
	if d < time.Minute {
		return "just now"
	}
	return span(d) + " ago"
}

func span(d time.Duration) string {
	switch {
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d/time.Minute))
	case d < 48*time.Hour:
		h, m := int(d/time.Hour), int(d%time.Hour/time.Minute)
		if m == 0 {
			return fmt.Sprintf("%dh", h)
		}
		return fmt.Sprintf("%dh%dm", h, m)
	}
	return fmt.Sprintf("%dd", int(d/(24*time.Hour)))
}

// syncChanges is changes for the status's summary of a sync.
func syncChanges(s *statusapi.Summary) string {
	if s == nil {
		return "-"
	}
	h := history.Summary(*s)
	return h.Changes()
}

// firstError is a history entry's first error: the sync's, else its
// first release's, prefixed by the release's name.
func firstError(e history.Entry) string {
	if e.Error != "" {
		return e.Error
	}
	for _, r := range e.Releases {
		if r.Error != "" {
			return r.Name + ": " + r.Error
		}
	}
	return ""
}

// The console's addresses, each name escaped as one path segment.

func environmentURL(env string) string { return "/environments/" + url.PathEscape(env) }

func releaseURL(env, release string) string {
	return environmentURL(env) + "/releases/" + url.PathEscape(release)
}

func environmentAPI(env string) string { return "/api/v1" + environmentURL(env) }

func releaseAPI(env, release string) string { return "/api/v1" + releaseURL(env, release) }

func rolloutAPI(name string) string { return "/api/v1/rollouts/" + url.PathEscape(name) }

// actionGroup is the buttons of one thing an operator acts on. The
// script sends each button's request with the token; without one they
// stay disabled.
type actionGroup struct {
	// Subject names what they act on ("dev", "egov-user in dev", "rollout
	// egov"), in their label and their result.
	Subject string
	Buttons []action
}

// action is one button: a POST to Path.
type action struct {
	Label, Path string
	// Done is what the result says on success ("retry asked").
	Done string
	// Confirm, when set, is the question of a confirm step.
	Confirm string
	Danger  bool
	// Toggle is the action the button becomes once this one succeeded
	// (suspend and resume).
	Toggle *action
}

// suspendAction is the suspend or resume button of something suspended
// or not, at api.
func suspendAction(api string, suspended bool) action {
	suspend := action{Label: "Suspend", Path: api + "/suspend", Done: "suspended"}
	resume := action{Label: "Resume", Path: api + "/resume", Done: "resumed"}
	if suspended {
		resume.Toggle = &suspend
		return resume
	}
	suspend.Toggle = &resume
	return suspend
}

// environmentActions are the actions on an environment.
func environmentActions(e statusapi.Environment) actionGroup {
	api := environmentAPI(e.Name)
	return actionGroup{Subject: e.Name, Buttons: []action{
		{Label: "Sync now", Path: api + "/sync", Done: "sync asked"},
		{Label: "Retry", Path: api + "/retry", Done: "retry asked"},
		suspendAction(api, e.Suspended),
	}}
}

// releaseActions are the actions on a release of env (the rollback has
// its own form).
func releaseActions(env string, r statusapi.Release) actionGroup {
	api := releaseAPI(env, r.Name)
	return actionGroup{Subject: r.Name + " in " + env, Buttons: []action{
		{Label: "Sync now", Path: api + "/sync", Done: "sync asked"},
		{Label: "Retry", Path: api + "/retry", Done: "retry asked"},
		suspendAction(api, r.Suspended),
	}}
}

// rolloutActions are the operator's actions on a rollout.
func rolloutActions(ro statusapi.Rollout) actionGroup {
	api := rolloutAPI(ro.Name)
	pause := action{Label: "Pause", Path: api + "/pause", Done: "paused"}
	resume := action{Label: "Resume", Path: api + "/resume", Done: "resumed"}
	var hold action
	if ro.Paused {
		hold = resume
		hold.Toggle = &pause
	} else {
		hold = pause
		hold.Toggle = &resume
	}
	return actionGroup{Subject: "rollout " + ro.Name, Buttons: []action{
		{Label: "Promote", Path: api + "/promote", Done: "promoted"},
		hold,
		{Label: "Abort", Path: api + "/abort", Done: "aborted", Danger: true,
			Confirm: "Abort rollout " + ro.Name + "? It halts where it is; the next commit starts again at the first wave."},
	}}
}
