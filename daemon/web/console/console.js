// digitops console: live updates, filters and the operator's actions on
// the server-rendered views. No build step, no dependency.
//
// Safety: every value from the daemon is inserted as text (el() appends
// strings as Text nodes, attributes go through setAttribute); nothing is
// ever parsed as HTML. The API token lives in sessionStorage and is sent
// as "Authorization: Bearer" with fetch(); there are no cookies.
//
// renderEnvironment and renderRollout build what the templates
// "envRow" and "rollout" (partials.html.tmpl) render: a change there is a
// change here.
(function () {
  'use strict';

  var TOKEN_KEY = 'digitops.apiToken';
  var READ_ONLY = 'read-only: enter the API token';
  var PHASES = ['failing', 'drifted', 'out-of-sync', 'pending', 'suspended', 'in-sync'];
  var body = document.body;
  var view = body.getAttribute('data-view');

  // el builds an element: attributes by setAttribute, children appended
  // (strings become Text nodes).
  function el(tag, attrs) {
    var n = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (k) {
        if (attrs[k] !== undefined && attrs[k] !== null && attrs[k] !== false) {
          n.setAttribute(k, attrs[k] === true ? '' : String(attrs[k]));
        }
      });
    }
    for (var i = 2; i < arguments.length; i++) {
      var c = arguments[i];
      if (c === null || c === undefined) continue;
      n.append(c);
    }
    return n;
  }

  // ---- addresses and short forms (views.go) ----

  function seg(s) { return encodeURIComponent(s); }
  function environmentURL(env) { return '/environments/' + seg(env); }
  function releaseURL(env, rel) { return environmentURL(env) + '/releases/' + seg(rel); }
  function environmentAPI(env) { return '/api/v1' + environmentURL(env); }
  function releaseAPI(env, rel) { return '/api/v1' + releaseURL(env, rel); }
  function rolloutAPI(name) { return '/api/v1/rollouts/' + seg(name); }

  function shortCommit(revision, commit) {
    if (commit) return commit.slice(0, 7);
    var i = revision.lastIndexOf('sha1:');
    if (i >= 0) return revision.slice(i + 5, i + 12);
    if (revision.indexOf('dir:') === 0) return 'dir:' + revision.slice(4, 11);
    return revision;
  }
  function refOf(revision) {
    var i = revision.indexOf('@sha1:');
    return i < 0 ? '' : revision.slice(0, i);
  }

  function span(ms) {
    if (ms < 3600e3) return Math.floor(ms / 60e3) + 'm';
    if (ms < 48 * 3600e3) {
      var h = Math.floor(ms / 3600e3), m = Math.floor((ms % 3600e3) / 60e3);
      return m ? h + 'h' + m + 'm' : h + 'h';
    }
    return Math.floor(ms / 86400e3) + 'd';
  }
  function age(t) {
    var d = Date.now() - t;
    if (d < 0) return -d < 60e3 ? 'in <1m' : 'in ' + span(-d);
    if (d < 60e3) return 'just now';
    return span(d) + ' ago';
  }
  function iso(t) { return new Date(t).toISOString().slice(0, 19); }
  function when(s) {
    var t = Date.parse(s);
    if (isNaN(t)) return s;
    return el('time', { datetime: iso(t) + 'Z', title: iso(t).replace('T', ' ') + ' UTC', 'data-age': true }, age(t));
  }
  function refreshAges() {
    document.querySelectorAll('time[data-age]').forEach(function (n) {
      var t = Date.parse(n.getAttribute('datetime'));
      if (!isNaN(t)) n.textContent = age(t);
    });
  }

  function badge(phase) { return el('span', { class: 'badge phase-' + phase }, phase); }

  function countPhases(list) {
    var n = {};
    list.forEach(function (p) { n[p] = (n[p] || 0) + 1; });
    return PHASES.filter(function (p) { return n[p] > 0; }).map(function (p) { return { phase: p, n: n[p] }; });
  }

  // ---- the API token ----

  function token() {
    try { return sessionStorage.getItem(TOKEN_KEY) || ''; } catch (e) { return ''; }
  }
  function setToken(t) {
    try {
      if (t) sessionStorage.setItem(TOKEN_KEY, t); else sessionStorage.removeItem(TOKEN_KEY);
    } catch (e) { /* storage refused: stays read-only */ }
    applyToken();
  }
  // applyToken enables the action buttons when a token is set, and says
  // why they are disabled otherwise.
  function applyToken() {
    var has = token() !== '';
    document.querySelectorAll('button.action').forEach(function (b) {
      if (b.getAttribute('aria-busy') === 'true') return;
      b.disabled = !has;
      if (has) b.removeAttribute('title'); else b.setAttribute('title', READ_ONLY);
    });
    document.querySelectorAll('.readonly').forEach(function (n) { n.hidden = has; });
    var state = document.getElementById('token-state');
    if (state) state.textContent = has ? 'token set: actions enabled' : READ_ONLY;
    var forget = document.getElementById('forget-token');
    if (forget) forget.hidden = !has;
  }
  function setupToken() {
    var form = document.getElementById('token-form');
    if (!form) return;
    form.hidden = false;
    var input = document.getElementById('api-token');
    form.addEventListener('submit', function (ev) {
      ev.preventDefault();
      var t = input.value.trim();
      input.value = '';
      setToken(t);
      say(t ? 'Token set for this tab: actions enabled.' : READ_ONLY, false);
    });
    document.getElementById('forget-token').addEventListener('click', function () {
      setToken('');
      say('Token forgotten: ' + READ_ONLY, false);
      input.focus();
    });
    applyToken();
  }

  // ---- results ----

  var sayTimer = null;
  function say(msg, failed) {
    var n = document.getElementById('action-result');
    if (!n) return;
    n.textContent = msg;
    n.classList.toggle('failed', !!failed);
    clearTimeout(sayTimer);
    sayTimer = setTimeout(function () { n.textContent = ''; }, 10000);
  }

  // ---- actions ----

  // send POSTs to path with the token and says how it went.
  function send(path, payload, subject, done, button) {
    var t = token();
    if (!t) {
      say(subject + ': ' + READ_ONLY, true);
      return Promise.resolve(false);
    }
    var init = { method: 'POST', headers: { Authorization: 'Bearer ' + t }, cache: 'no-store', credentials: 'omit' };
    if (payload !== undefined) {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(payload);
    }
    if (button) { button.disabled = true; button.setAttribute('aria-busy', 'true'); }
    return fetch(path, init).then(function (resp) {
      return resp.text().then(function (text) {
        if (resp.ok) {
          say(subject + ': ' + done, false);
          return true;
        }
        var why = text.trim() || resp.statusText;
        if (resp.status === 401) why = 'the token was refused: ' + why;
        say(subject + ': failed (' + resp.status + '): ' + why, true);
        return false;
      });
    }, function (err) {
      say(subject + ': failed: ' + err.message, true);
      return false;
    }).then(function (ok) {
      if (button) { button.removeAttribute('aria-busy'); button.disabled = token() === ''; }
      return ok;
    });
  }

  // toggle turns a suspend button into a resume button (and back) once it
  // succeeded.
  function toggle(b) {
    var label = b.getAttribute('data-toggle-label');
    if (!label) return;
    var now = { label: b.textContent, path: b.getAttribute('data-path'), done: b.getAttribute('data-done') };
    b.textContent = label;
    b.setAttribute('data-path', b.getAttribute('data-toggle-path'));
    b.setAttribute('data-done', b.getAttribute('data-toggle-done'));
    b.setAttribute('data-toggle-label', now.label);
    b.setAttribute('data-toggle-path', now.path);
    b.setAttribute('data-toggle-done', now.done);
  }

  // confirmStep asks question after anchor; yes runs on confirmation.
  function confirmStep(anchor, question, yesLabel, yes) {
    document.querySelectorAll('.confirm').forEach(function (n) { n.remove(); });
    var id = 'confirm-' + Date.now();
    var ok = el('button', { type: 'button', class: 'danger' }, yesLabel);
    var cancel = el('button', { type: 'button' }, 'Cancel');
    var box = el('div', { class: 'confirm', role: 'group', 'aria-labelledby': id }, el('p', { id: id }, question), ok, cancel);
    var back = document.activeElement;
    function close() {
      box.remove();
      if (back && back.focus) back.focus();
    }
    ok.addEventListener('click', function () { close(); yes(); });
    cancel.addEventListener('click', close);
    box.addEventListener('keydown', function (ev) { if (ev.key === 'Escape') close(); });
    anchor.append(box);
    ok.focus();
  }

  function setupActions() {
    document.addEventListener('click', function (ev) {
      var b = ev.target.closest && ev.target.closest('.actions button.action');
      if (!b || b.disabled) return;
      var group = b.closest('.actions');
      var subject = group.getAttribute('data-subject');
      var run = function () {
        send(b.getAttribute('data-path'), undefined, subject, b.getAttribute('data-done'), b).then(function (ok) {
          if (ok) toggle(b);
        });
      };
      var q = b.getAttribute('data-confirm');
      if (q) confirmStep(group, q, 'Confirm: ' + b.textContent, run); else run();
    });
    var rb = document.getElementById('rollback');
    if (rb) {
      rb.addEventListener('submit', function (ev) {
        ev.preventDefault();
        var select = document.getElementById('rollback-revision');
        var to = parseInt(select.value, 10);
        var subject = rb.getAttribute('data-subject');
        confirmStep(rb, 'Roll ' + subject + ' back to Helm revision ' + to + '? It stays suspended until resumed.',
          'Confirm: roll back to revision ' + to, function () {
            send(rb.getAttribute('data-path'), { revision: to }, subject,
              'rolled back to revision ' + to + '; suspended until resumed', rb.querySelector('button.action')).then(function (ok) {
              if (ok) showStale();
            });
          });
      });
    }
  }

  // ---- filters ----

  // filterRows shows the rows of the filter's table that match it and,
  // on the environment view, orders them.
  function filterRows(form) {
    var table = document.getElementById(form.getAttribute('data-filter-table'));
    if (!table) return;
    var q = (form.elements.q.value || '').trim().toLowerCase();
    var phase = form.elements.phase.value;
    var sort = form.elements.sort ? form.elements.sort.value : '';
    var tbody = table.tBodies[0];
    var rows = Array.prototype.slice.call(tbody.rows);
    var shown = 0;
    rows.forEach(function (r) {
      var names = [r.getAttribute('data-environment') || r.getAttribute('data-release') || '', r.getAttribute('data-namespace') || ''];
      var match = (!phase || r.getAttribute('data-phase') === phase) &&
        (!q || names.some(function (n) { return n.toLowerCase().indexOf(q) >= 0; }));
      r.hidden = !match;
      if (match) shown++;
    });
    if (form.elements.sort) {
      rows.sort(function (a, b) {
        var d = 0;
        if (sort === 'phase') d = PHASES.indexOf(a.getAttribute('data-phase')) - PHASES.indexOf(b.getAttribute('data-phase'));
        return d || (+a.getAttribute('data-order') - +b.getAttribute('data-order'));
      });
      rows.forEach(function (r) { tbody.append(r); });
    }
    var count = document.getElementById('filter-count');
    if (count) count.textContent = shown + ' of ' + rows.length + ' ' + count.getAttribute('data-noun') + ' shown';
  }

  function setupFilters() {
    document.querySelectorAll('form[data-filter-table]').forEach(function (form) {
      var apply = function () {
        filterRows(form);
        var params = new URLSearchParams();
        ['q', 'phase', 'sort'].forEach(function (k) {
          var f = form.elements[k];
          if (f && f.value) params.set(k, f.value.trim());
        });
        var qs = params.toString();
        history.replaceState(null, '', location.pathname + (qs ? '?' + qs : ''));
      };
      form.addEventListener('input', apply);
      form.addEventListener('change', apply);
      form.addEventListener('submit', function (ev) { ev.preventDefault(); apply(); });
    });
  }
  function refilter() {
    document.querySelectorAll('form[data-filter-table]').forEach(filterRows);
  }

  // ---- the overview's rows (templates "envRow" and "rollout") ----

  function renderActions(subject, buttons) {
    var g = el('div', { class: 'actions', role: 'group', 'aria-label': 'Actions on ' + subject, 'data-subject': subject });
    var has = token() !== '';
    buttons.forEach(function (a) {
      var attrs = { type: 'button', class: 'action' + (a.danger ? ' danger' : ''), 'data-path': a.path, 'data-done': a.done, 'data-confirm': a.confirm };
      if (a.toggle) {
        attrs['data-toggle-label'] = a.toggle.label;
        attrs['data-toggle-path'] = a.toggle.path;
        attrs['data-toggle-done'] = a.toggle.done;
      }
      if (!has) { attrs.disabled = true; attrs.title = READ_ONLY; }
      g.append(el('button', attrs, a.label));
    });
    g.append(el('span', { class: 'readonly', hidden: has }, READ_ONLY));
    return g;
  }
  function suspendAction(api, suspended) {
    var suspend = { label: 'Suspend', path: api + '/suspend', done: 'suspended' };
    var resume = { label: 'Resume', path: api + '/resume', done: 'resumed' };
    if (suspended) { resume.toggle = suspend; return resume; }
    suspend.toggle = resume;
    return suspend;
  }
  function environmentActions(e) {
    var api = environmentAPI(e.name);
    return renderActions(e.name, [
      { label: 'Sync now', path: api + '/sync', done: 'sync asked' },
      { label: 'Retry', path: api + '/retry', done: 'retry asked' },
      suspendAction(api, e.suspended)
    ]);
  }
  function rolloutActions(ro) {
    var api = rolloutAPI(ro.name);
    var pause = { label: 'Pause', path: api + '/pause', done: 'paused' };
    var resume = { label: 'Resume', path: api + '/resume', done: 'resumed' };
    var hold;
    if (ro.paused) { resume.toggle = pause; hold = resume; } else { pause.toggle = resume; hold = pause; }
    return renderActions('rollout ' + ro.name, [
      { label: 'Promote', path: api + '/promote', done: 'promoted' },
      hold,
      { label: 'Abort', path: api + '/abort', done: 'aborted', danger: true,
        confirm: 'Abort rollout ' + ro.name + '? It halts where it is; the next commit starts again at the first wave.' }
    ]);
  }

  function warningText(w) {
    return w.file + (w.line ? ':' + w.line : '') + ': ' + (w.release ? 'release ' + JSON.stringify(w.release) + ': ' : '') + w.message;
  }

  function renderEnvironment(e) {
    var releases = e.releases || [], warnings = e.warnings || [];
    var tr = el('tr', { id: 'env-' + e.name, 'data-environment': e.name, 'data-phase': e.phase });
    var th = el('th', { scope: 'row', 'data-label': 'Environment' }, el('a', { href: environmentURL(e.name) }, e.name));
    if (e.owner) th.append(el('span', { class: 'sub' }, 'replica ' + e.owner));
    if (e.ownerError) th.append(el('span', { class: 'sub warn' }, 'owner unreachable: ' + e.ownerError));
    tr.append(th, el('td', { 'data-label': 'Phase' }, badge(e.phase)));

    var rev = el('td', { 'data-label': 'Revision' });
    if (e.revision) {
      rev.append(el('code', { title: e.revision }, shortCommit(e.revision, e.commit || '')));
      var ref = refOf(e.revision);
      if (ref) rev.append(' ', el('span', { class: 'ref' }, ref));
      if (e.commitSubject) rev.append(el('span', { class: 'subject' }, e.commitSubject));
      if (e.commitTime) rev.append(el('span', { class: 'sub' }, e.commitAuthor ? e.commitAuthor + ', committed ' : 'committed ', when(e.commitTime)));
    } else {
      rev.append(el('span', { class: 'sub' }, 'none yet'));
    }
    tr.append(rev);

    var sync = el('td', { 'data-label': 'Last sync' });
    if (e.lastSync) {
      sync.append(el('span', { class: 'result result-' + e.lastSync.result }, e.lastSync.result), ' in ' + e.lastSync.duration,
        el('span', { class: 'sub' }, when(e.lastSync.started)));
    } else {
      sync.append(el('span', { class: 'sub' }, 'none yet'));
    }
    tr.append(sync);

    var counts = el('td', { 'data-label': 'Releases' });
    var cs = countPhases(releases.map(function (r) { return r.phase; }));
    cs.forEach(function (c) { counts.append(el('span', { class: 'count count-' + c.phase }, c.n + ' ' + c.phase), ' '); });
    if (!cs.length) counts.append('none');
    tr.append(counts);

    var drift = 0, errors = e.lastError ? 1 : 0, held = 0;
    releases.forEach(function (r) {
      drift += (r.drift || []).length;
      if (r.error || r.phase === 'failing') errors++;
      if (r.suspended) held++;
    });
    var issues = el('td', { 'data-label': 'Issues' });
    if (drift) issues.append(el('span', { class: 'badge phase-drifted' }, 'drift ' + drift), ' ');
    if (errors) issues.append(el('span', { class: 'badge phase-failing' }, 'errors ' + errors), ' ');
    if (warnings.length) issues.append(el('span', { class: 'badge warn' }, 'warnings ' + warnings.length), ' ');
    if (held) issues.append(el('span', { class: 'badge phase-suspended' }, 'held ' + held), ' ');
    if (e.suspended) issues.append(el('span', { class: 'badge phase-suspended' }, 'suspended'), ' ');
    if (e.lastError) issues.append(el('div', { class: 'error clamp' }, e.lastError));
    if (warnings.length) {
      var d = el('details', null, el('summary', null, 'warnings'));
      warnings.forEach(function (w) { d.append(el('div', { class: 'warning' }, warningText(w))); });
      issues.append(d);
    }
    tr.append(issues, el('td', { 'data-label': 'Actions' }, environmentActions(e)));
    return tr;
  }

  function renderRollout(ro) {
    var state;
    if (ro.halted) state = el('span', { class: 'badge phase-failing' }, 'halted');
    else if (ro.paused) state = el('span', { class: 'badge phase-suspended' }, 'paused');
    else if (ro.complete) state = el('span', { class: 'badge phase-in-sync' }, 'complete');
    else state = el('span', { class: 'badge phase-out-of-sync' }, 'wave ' + ro.wave);
    var a = el('article', { class: 'card rollout', id: 'rollout-' + ro.name, 'data-rollout': ro.name },
      el('h3', null, 'rollout ' + ro.name + ' ', state),
      el('p', { class: 'meta' }, ro.summary));
    if (ro.halted) a.append(el('div', { class: 'error' }, ro.halted));
    if (ro.error) a.append(el('div', { class: 'error' }, ro.error));
    if (ro.gateError) a.append(el('div', { class: 'error gate-error' }, ro.gateError));
    var tbody = el('tbody');
    (ro.waves || []).forEach(function (w, i) {
      var current = i + 1 === ro.wave;
      var envs = el('td', { 'data-label': 'Environments' });
      (w.environments || []).forEach(function (e) {
        envs.append(el('a', { class: 'badge phase-' + e.phase, 'data-rollout-environment': e.name, href: environmentURL(e.name) },
          e.name + ' @ ' + (e.commit ? e.commit.slice(0, 7) : 'head')), ' ');
      });
      var soak = el('td', { 'data-label': 'Soak and gate' }, w.soak ? 'soak ' + w.soak : 'no soak');
      if (w.gate) soak.append(el('span', { class: 'sub' }, 'gate: ' + w.gate));
      tbody.append(el('tr', { 'data-wave': i + 1, 'aria-current': current ? 'step' : null },
        el('th', { scope: 'row' }, 'wave ' + (i + 1), current ? ' ' : null, current ? el('span', { class: 'sub' }, 'current') : null),
        envs, soak));
    });
    a.append(el('table', { class: 'cards waves' },
      el('caption', { class: 'visually-hidden' }, 'Waves of rollout ' + ro.name),
      el('thead', null, el('tr', null, el('th', { scope: 'col' }, 'Wave'), el('th', { scope: 'col' }, 'Environments'), el('th', { scope: 'col' }, 'Soak and gate'))),
      tbody), rolloutActions(ro));
    return a;
  }

  // reconcile makes container's children the keyed nodes of items, in
  // order, building only those whose data changed; the element that had
  // the focus keeps it when its row is rebuilt.
  function reconcile(container, items, key, build) {
    var old = {};
    Array.prototype.forEach.call(container.children, function (n) { old[n.getAttribute(key)] = n; });
    var focused = document.activeElement;
    var focusPath = focused && container.contains(focused) ? focused.getAttribute('data-path') : null;
    var seen = {};
    items.forEach(function (item) {
      var digest = JSON.stringify(item);
      var n = old[item.name];
      if (!n || n.__digest !== digest) {
        var built = build(item);
        built.__digest = digest;
        if (n) n.replaceWith(built); else container.append(built);
        n = built;
      }
      seen[item.name] = true;
      container.append(n); // keep the status's order
    });
    Object.keys(old).forEach(function (k) { if (!seen[k]) old[k].remove(); });
    if (focusPath && !container.contains(focused)) {
      var again = Array.prototype.find.call(container.querySelectorAll('button[data-path]'), function (b) { return b.getAttribute('data-path') === focusPath; });
      if (again) again.focus();
    }
  }

  function renderOverview(st) {
    var envs = st.environments || [], rollouts = st.rollouts || [];
    var counts = document.getElementById('phase-counts');
    if (counts) {
      counts.replaceChildren();
      countPhases(envs.map(function (e) { return e.phase; })).forEach(function (c) {
        counts.append(el('li', null, el('a', { class: 'badge phase-' + c.phase, href: '/?phase=' + c.phase }, c.n + ' ' + c.phase)));
      });
    }
    var table = document.getElementById('environments');
    if (table) reconcile(table.tBodies[0], envs, 'data-environment', renderEnvironment);
    var none = document.getElementById('no-environments');
    if (none) none.hidden = envs.length > 0;
    var box = document.getElementById('rollouts');
    if (box) {
      reconcile(box, rollouts, 'data-rollout', renderRollout);
      box.parentElement.hidden = rollouts.length === 0;
    }
    refilter();
  }

  // ---- banners (layout.html.tmpl) ----

  function renderBanners(st) {
    var list = document.getElementById('banner-list');
    if (!list) return;
    var kept = {};
    Array.prototype.forEach.call(list.children, function (li) {
      if (li.hasAttribute('data-rolled-back')) kept[li.getAttribute('data-banner-environment') + '\u0000' + li.getAttribute('data-banner-release')] = li;
    });
    var items = [];
    (st.environments || []).forEach(function (e) {
      (e.releases || []).forEach(function (r) {
        if (!r.suspended) return;
        var li = kept[e.name + '\u0000' + r.name];
        if (!li) {
          li = el('li', { 'data-banner-environment': e.name, 'data-banner-release': r.name },
            el('a', { href: releaseURL(e.name, r.name) }, r.name), ' in ' + e.name + ': suspended, not synced until resumed.');
        }
        items.push(li);
      });
    });
    list.replaceChildren.apply(list, items);
    document.getElementById('banners').hidden = items.length === 0;
  }

  // ---- the environment and release views: say when they are stale ----

  function showStale() {
    var n = document.getElementById('stale');
    if (n) n.hidden = false;
  }
  function checkEnvironment(st) {
    var h = document.getElementById('environment');
    if (!h) return;
    var e = (st.environments || []).find(function (x) { return x.name === h.getAttribute('data-environment'); });
    if (!e) { showStale(); return; }
    var started = e.lastSync ? e.lastSync.started : '';
    var was = h.getAttribute('data-last-sync') || '';
    if (e.phase !== h.getAttribute('data-phase') || (e.revision || '') !== h.getAttribute('data-revision') ||
        (started && Date.parse(started) !== Date.parse(was)) || (!started && was)) {
      showStale();
    }
  }
  function checkRelease(st) {
    var h = document.getElementById('release');
    if (!h) return;
    var env = body.getAttribute('data-view-environment');
    var e = (st.environments || []).find(function (x) { return x.name === env; });
    var r = e && (e.releases || []).find(function (x) { return x.name === h.getAttribute('data-release'); });
    if (!r) return;
    if (r.phase !== h.getAttribute('data-phase') || String(r.revision || 0) !== h.getAttribute('data-revision') ||
        String(!!r.suspended) !== h.getAttribute('data-suspended')) {
      showStale();
    }
  }

  // ---- live updates ----

  function setupLive() {
    var live = document.getElementById('live');
    if (!window.EventSource) return;
    var es = new EventSource('/api/v1/events');
    es.addEventListener('open', function () { live.textContent = 'live'; });
    es.addEventListener('error', function () { live.textContent = 'live updates reconnecting…'; });
    es.addEventListener('status', function (ev) {
      var st;
      try { st = JSON.parse(ev.data); } catch (e) { return; }
      live.textContent = 'live';
      renderBanners(st);
      if (view === 'overview') renderOverview(st);
      if (view === 'environment') checkEnvironment(st);
      if (view === 'release') checkRelease(st);
      body.setAttribute('data-live-updates', String(+(body.getAttribute('data-live-updates') || 0) + 1));
    });
    window.addEventListener('pagehide', function () { es.close(); });
  }

  setupToken();
  setupActions();
  setupFilters();
  setupLive();
  setInterval(refreshAges, 30e3);
  // The testing hooks: the renderers, to compare with the templates.
  window.digitopsConsole = { renderEnvironment: renderEnvironment, renderRollout: renderRollout };
}());
