'''The console's script, served as /api/console/console.js: plain JavaScript, no build step.

It is a client of the public API only (same origin, `../<path>` from the page, so under
whatever prefix serves the API) and sends the signed-in credential with every call.
'''

TEXT = r"""'use strict';
(() => {
  const API = new URL('../', document.baseURI);
  const TOKEN_KEY = 'bulkJobsConsole.token';
  const ACCESS_KEY = 'bulkJobsConsole.access';
  const JOBS_PAGE = 25;
  const DEVICES_PAGE = 50;
  const POLL_MS = 1500;
  const ACTIVE = ['pending', 'running'];
  const ENDED = ['completed', 'failed', 'cancelled'];
  const OPTIONS = ['batch', 'cancellationThreshold', 'rolloutRate', 'retry', 'timeout'];
  const STATUS = {draft: 'Draft', pending: 'Pending', running: 'Running', stopped: 'Stopped',
                  completed: 'Completed', failed: 'Failed', cancelled: 'Cancelled'};
  const TYPES = [['property', 'Property'], ['cloudProperty', 'Cloud property'], ['command', 'Command']];
  const DEVICE_STATUS = {pending: 'Pending', running: 'Running', completed: 'Completed', failed: 'Failed'};

  const state = {token: sessionStorage.getItem(TOKEN_KEY), mayRun: null, mayEditGroups: null, flash: null, view: 0, timers: [],
                 groups: null};
  const main = document.getElementById('main');

  // DOM: elements are built, never parsed from strings (names and errors come from users).
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (key === 'class') el.className = value;
      else if (key.startsWith('on')) el.addEventListener(key.slice(2), value);
      else if (['checked', 'disabled', 'hidden', 'value', 'selected', 'required', 'indeterminate'].includes(key))
        el[key] = value;
      else el.setAttribute(key, value === true ? '' : String(value));
    }
    append(el, children);
    return el;
  }
  function append(el, children) {
    for (const child of children.flat(Infinity)) {
      if (child === undefined || child === null || child === false) continue;
      el.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return el;
  }
  function replace(el, ...children) { el.replaceChildren(); return append(el, children); }
  let uniqueCounter = 0;
  const uid = (prefix) => `${prefix}-${++uniqueCounter}`;

  // The API

  class ApiError extends Error {
    constructor(status, body, message) {
      const error = (body && body.error) || {};
      super(message || error.message || `The service answered ${status}.`);
      this.status = status;
      this.code = error.code || '';
      this.target = error.target || '';
      this.details = Array.isArray(error.details) ? error.details : [];
      this.requestId = error.requestId || '';
      this.retryAfter = 0;
    }
  }

  async function call(method, path, body, options = {}) {
    const url = /^https?:/i.test(path) ? path : new URL(path, API).href;
    const headers = {Authorization: options.token || state.token || '', ...(options.headers || {})};
    const init = {method, headers, cache: 'no-store'};
    if (body !== undefined) {
      init.body = JSON.stringify(body);
      headers['Content-Type'] = 'application/json';
    }
    let response;
    try {
      response = await fetch(url, init);
    } catch (failure) {
      throw new ApiError(0, null, `The service could not be reached (${failure.message}). Nothing was changed by this page; try again.`);
    }
    if (!response.ok) {
      let payload = null;
      try { payload = await response.json(); } catch (ignored) { /* not the error shape */ }
      const error = new ApiError(response.status, payload);
      error.retryAfter = Number(response.headers.get('Retry-After')) || 0;
      if (response.status === 401 && !options.token) {
        signOut('The service no longer accepts your token (expired, revoked or changed). Sign in again.');
      }
      throw error;
    }
    if (options.raw) return response;
    if (response.status === 204) return null;
    return response.json();
  }

  // Errors in words, naming the field as the form labels it.

  function fieldLabel(target, context) {
    if (!target) return '';
    const operation = /^data\[(\d+)\](?:\.(\w+))?$/.exec(target);
    if (operation) {
      const n = Number(operation[1]) + 1;
      const command = context && context.type === 'command';
      const part = {path: command ? 'command name' : 'property name', value: command ? 'payload' : 'value',
                    type: 'job type', responseTimeout: 'response timeout', connectTimeout: 'connect timeout',
                    completion: 'Wait for the device to acknowledge'}[operation[2]];
      return part ? `Operation ${n}, ${part}` : `Operation ${n}`;
    }
    const retry = /^retry\.criteria\[(\d+)\]/.exec(target);
    if (retry) {
      const criterion = context && context.retry && context.retry.criteria[Number(retry[1])];
      return criterion ? `Retries after ${retryName(criterion.failureType)}` : 'Retries';
    }
    const device = /^devices\[(\d+)\]$/.exec(target);
    if (device) {
      const id = context && context.devices && context.devices[Number(device[1])];
      return id ? `Device ${id}` : `Device ${Number(device[1]) + 1} of the selection`;
    }
    return {displayName: 'Name', description: 'Description', group: 'Device group', devices: 'Devices',
            data: 'Operations', jobId: 'Job id', rerunId: 'Rerun job id', filter: 'Query',
            deviceGroupId: 'Group ID', batch: 'Batch size', 'batch.value': 'Batch size', 'batch.type': 'Batch size in',
            'batch.pauseAfterEach': 'Pause after each batch', cancellationThreshold: 'Cancellation threshold',
            'cancellationThreshold.value': 'Failed devices allowed', 'cancellationThreshold.type': 'Failed devices allowed in',
            'cancellationThreshold.batch': 'Apply to each batch',
            'cancellationThreshold.minNumberOfExecutedDevices': 'Devices with an outcome before any cancellation',
            timeout: 'Give up after (minutes)', 'timeout.inProgressMinutes': 'Give up after (minutes)', rolloutRate: 'Rollout rate',
            'rolloutRate.maximumPerMinute': 'Devices per minute', 'rolloutRate.exponentialRate.baseRatePerMinute': 'Start rate (devices per minute)',
            'rolloutRate.exponentialRate.incrementFactor': 'Factor', retry: 'Retries', 'retry.criteria': 'Retries',
            'retry.backoff': 'Longest wait (seconds)', 'retry.backoff.initialSeconds': 'First wait (seconds)',
            'retry.backoff.maximumSeconds': 'Longest wait (seconds)', ...SCHEDULE_LABELS}[target] ||
      (/^rolloutRate\.exponentialRate\.rateIncreaseCriteria/.test(target) ? 'Grow every' : target);
  }

  function headline(error) {
    switch (error.status) {
      case 0: return error.message;
      case 400: return 'The service refused the request.';
      case 401: return 'Your token was refused.';
      case 403: return 'Your role does not allow this.';
      case 404: return 'Not found.';
      case 409: return 'Not possible now.';
      case 412: return 'Someone changed this meanwhile: reload the page and try again.';
      case 413: return 'The request is too large.';
      case 429: return `Too many requests: try again${error.retryAfter ? ` in ${error.retryAfter} s` : ''}.`;
      case 503: return `The service is unavailable; nothing was changed. Try again${error.retryAfter ? ` in ${error.retryAfter} s` : ''}.`;
      default: return `The service failed (HTTP ${error.status}).`;
    }
  }

  // [{label, message, target}] for an error: the details when they name fields, else the error itself.
  function problems(error, context) {
    const named = error.details.filter((detail) => detail.target);
    const items = named.length ? named : [{target: error.target, message: error.message}];
    return items.map((item) => {
      let message = item.message || error.message;
      const prefix = item.target ? `${item.target}: ` : '';
      if (prefix && message.startsWith(prefix)) message = message.slice(prefix.length);
      return {label: fieldLabel(item.target, context), message, target: item.target};
    });
  }

  function errorBox(error, context) {
    if (!(error instanceof ApiError)) {
      return h('div', {class: 'error', role: 'alert'}, h('p', {}, String(error && error.message || error)));
    }
    return h('div', {class: 'error', role: 'alert'},
      h('p', {class: 'headline'}, headline(error)),
      error.status === 0 ? null : h('ul', {}, problems(error, context).map((p) =>
        h('li', {}, p.label ? [h('strong', {}, p.label), ': '] : null, p.message))),
      error.code ? h('p', {class: 'meta'}, `Code ${error.code}${error.requestId ? `, request ${error.requestId}` : ''}`) : null);
  }

  function showError(slot, error, context) { replace(slot, errorBox(error, context)); slot.focus && slot.focus(); }

  // Formatting

  const dateFormat = new Intl.DateTimeFormat(undefined, {dateStyle: 'medium', timeStyle: 'medium'});
  const when = (text) => text ? dateFormat.format(new Date(text)) : '—';
  function duration(job) {
    if (!job.start) return '—';
    const end = job.end ? new Date(job.end) : (ACTIVE.includes(job.status) ? new Date() : null);
    if (!end) return '—';
    return secondsText(Math.round((end - new Date(job.start)) / 1000));
  }
  const statusBadge = (status) => h('span', {class: `status status-${status}`}, STATUS[status] || status);
  const valueText = (value) => value === undefined || value === null ? '' : JSON.stringify(value);
  const typeName = (type) => (TYPES.find(([key]) => key === type) || [type, type])[1];

  function progressBar(progress, label) {
    const total = progress.total || 0;
    const done = progress.completed + progress.failed;
    const share = (n) => `${total ? (100 * n / total).toFixed(2) : 0}%`;
    const text = `${progress.completed} completed, ${progress.failed} failed, ${progress.running} running, ` +
                 `${progress.pending} pending, of ${total}`;
    const ok = h('span', {class: 'ok'});
    const bad = h('span', {class: 'bad'});
    ok.style.width = share(progress.completed);
    bad.style.width = share(progress.failed);
    return h('div', {class: 'progress'},
      h('div', {class: 'bar', role: 'progressbar', 'aria-label': label, 'aria-valuemin': 0,
                'aria-valuemax': total || 1, 'aria-valuenow': done, 'aria-valuetext': text}, ok, bad),
      h('span', {class: 'counts'}, `${done} of ${total} done`, progress.failed ? `, ${progress.failed} failed` : ''));
  }

  // Views and navigation

  function later(fn, ms) { const t = setTimeout(fn, ms); state.timers.push(t); return t; }
  function leaveView() { state.view += 1; state.timers.forEach(clearTimeout); state.timers = []; return state.view; }
  const current = (view) => view === state.view;

  function page(title, ...content) {
    document.title = `${title} - Bulk jobs console`;
    const heading = h('h1', {tabindex: '-1'}, title);
    const flash = state.flash ? h('p', {class: 'flash', role: 'status'}, state.flash) : null;
    state.flash = null;
    replace(main, heading, flash, content);
    heading.focus();
    return heading;
  }

  async function route() {
    const hash = location.hash;
    if (hash === '#main') return;  // the skip link
    const view = leaveView();
    if (!state.token) { showWho(); return signInPage(); }
    try {
      await ensureAccess();
    } catch (error) {
      if (!current(view) || error.status === 401) return;  // signed out: the sign-in page is shown
      return page('The console cannot start', errorBox(error));
    }
    if (!current(view)) return;
    showWho();
    const parts = hash.replace(/^#\/?/, '').split('/').filter(Boolean).map(decodeURIComponent);
    if (parts[0] === 'new') return jobForm(view, null);
    if (parts[0] === 'new-group') return groupForm(view);
    if (parts[0] === 'groups' && parts[1]) return groupPage(view, parts[1]);
    if (parts[0] === 'groups') return groupsPage(view);
    if (parts[0] === 'scheduled') return scheduledPage(view);
    if (parts[0] === 'jobs' && parts[1] && parts[2] === 'edit') return jobForm(view, parts[1]);
    if (parts[0] === 'jobs' && parts[1] && parts[2] === 'review') return jobReview(view, parts[1]);
    if (parts[0] === 'jobs' && parts[1]) return jobOverview(view, parts[1]);
    if (hash && hash !== '#/jobs') { history.replaceState(null, '', '#/jobs'); }
    return jobsPage(view);
  }
  function go(hash) { if (location.hash === hash) route(); else location.hash = hash; }

  // Signing in. A credential is kept in this tab only (sessionStorage) and sent only to this API.

  function tokenFrom(text) {
    let token = text.trim().replace(/^export\s+TOKEN=/, '').trim();
    if (/^(['"]).*\1$/.test(token)) token = token.slice(1, -1);
    return token;
  }

  function signInPage(message) {
    const slot = h('div', {tabindex: '-1'});
    const input = h('input', {id: 'token', type: 'password', autocomplete: 'off', spellcheck: 'false',
                              required: true, 'aria-describedby': 'token-help'});
    const form = h('form', {class: 'sign-in', onsubmit: async (event) => {
      event.preventDefault();
      const token = tokenFrom(input.value);
      if (!token) { input.setAttribute('aria-invalid', 'true'); return showError(slot, 'Paste a token first.'); }
      try {
        await call('GET', 'jobs?maxpagesize=1', undefined, {token});
      } catch (error) {
        input.setAttribute('aria-invalid', 'true');
        return showError(slot, error);
      }
      adopt(token);
      go(/^#\/./.test(location.hash) ? location.hash : '#/jobs');
    }},
      h('label', {for: 'token'}, 'API token'),
      input,
      h('p', {id: 'token-help', class: 'help'},
        'An API token of this app (SharedAccessSignature sr=…). Locally, make run prints a development ',
        'Administrator token as export TOKEN=\'…\'; paste it, with or without that part. The token stays in ',
        'this browser tab and is sent only to this app\'s API.'),
      h('button', {type: 'submit', class: 'primary'}, 'Sign in'));
    const microsoft = h('div', {class: 'sign-in'});
    const view = state.view;
    page('Sign in', message ? h('p', {class: 'error', role: 'alert'}, message) : null, slot, microsoft, form);
    consoleConfig().then(({entra}) => {
      if (!entra || view !== state.view || state.token) return;
      replace(microsoft,
        h('button', {type: 'button', class: 'primary', onclick: (event) => {
          const button = event.currentTarget;
          button.disabled = true;
          signInWithEntra(entra).catch((error) => { button.disabled = false; showError(slot, error); });
        }}, 'Sign in with Microsoft'),
        h('p', {class: 'help'}, 'With your work account (Microsoft Entra ID); the app\'s Administrators assign your role.'),
        h('p', {class: 'or'}, 'Or with an API token:'));
    });
  }

  function signOut(message) {
    state.token = null;
    state.mayRun = state.mayEditGroups = null;
    sessionStorage.removeItem(TOKEN_KEY);
    sessionStorage.removeItem(ACCESS_KEY);
    leaveView();
    showWho();
    signInPage(message);
  }

  function tokenName(token) {
    const name = /(?:^|[&\s])skn=([^&\s]+)/.exec(token || '');
    if (name) return `API token ${decodeURIComponent(name[1])}`;
    const person = /^Bearer\s/i.test(token || '') ? bearerName(token.replace(/^Bearer\s+/i, '')) : '';
    return person ? `Microsoft as ${person}` : 'a bearer token';
  }

  function showWho() {
    const who = document.getElementById('who');
    who.hidden = !state.token;
    if (state.token) {
      document.getElementById('who-text').textContent =
        `Signed in with ${tokenName(state.token)}${state.mayRun === false && state.mayEditGroups === false ? ' (read only)' : ''}`;
    }
  }

  // What the caller may do. The API has no "who am I" endpoint, so the console asks once per
  // sign-in with a run of an id no job can have and a save of a group without a body: 403 if the
  // roles do not allow it, else 400 for the request. Nothing is changed either way (the audit log
  // records the refusals).
  async function ensureAccess() {
    if (state.mayRun !== null && state.mayEditGroups !== null) return;
    try {
      const kept = JSON.parse(sessionStorage.getItem(ACCESS_KEY) || 'null');
      if (kept && typeof kept.mayRun === 'boolean' && typeof kept.mayEditGroups === 'boolean') {
        Object.assign(state, {mayRun: kept.mayRun, mayEditGroups: kept.mayEditGroups});
        return;
      }
    } catch (ignored) { /* asked again below */ }
    [state.mayRun, state.mayEditGroups] = await Promise.all([allowed('POST', 'jobs/%21/run'), allowed('PUT', 'deviceGroups/%21')]);
    sessionStorage.setItem(ACCESS_KEY, JSON.stringify({mayRun: state.mayRun, mayEditGroups: state.mayEditGroups}));
  }
  async function allowed(method, path) {
    try {
      await call(method, path);
      return true;
    } catch (error) {
      if (error.status !== 403 && error.status !== 400) throw error;
      return error.status === 400;
    }
  }

  async function groupsById() {
    if (!state.groups) {
      const groups = new Map();
      let url = 'deviceGroups?maxpagesize=1000';
      while (url) {
        const body = await call('GET', url);
        body.value.forEach((group) => groups.set(group.id, group));
        url = body.nextLink;
      }
      state.groups = groups;
    }
    return state.groups;
  }
  const groupName = (groups, id) => (groups && groups.get(id) && groups.get(id).displayName) || id;

  // The jobs page: running jobs first, then the rest (newest first, as the API lists them).

  async function jobsPage(view) {
    const jobs = [];
    let nextLink = null;
    let groups = null;
    const slot = h('div', {tabindex: '-1'});
    const status = h('select', {id: 'filter-status', onchange: () => render()},
      h('option', {value: ''}, 'All statuses'),
      Object.entries(STATUS).map(([value, label]) => h('option', {value}, label)));
    const search = h('input', {id: 'filter-name', type: 'search', autocomplete: 'off', oninput: () => render()});
    const summary = h('p', {class: 'summary', role: 'status'});
    const body = h('tbody');
    const more = h('button', {type: 'button', hidden: true, onclick: () => load(nextLink)}, 'Load more jobs');
    const toolbar = h('div', {class: 'toolbar'},
      state.mayRun ? h('button', {type: 'button', class: 'primary', onclick: () => go('#/new')}, 'New') : null,
      h('div', {class: 'field inline'}, h('label', {for: 'filter-status'}, 'Status'), status),
      h('div', {class: 'field inline'}, h('label', {for: 'filter-name'}, 'Search by name'), search),
      h('button', {type: 'button', onclick: () => go('#/jobs')}, 'Refresh'));
    const table = h('table', {class: 'jobs'},
      h('caption', {class: 'visually-hidden'}, 'Jobs, running jobs first'),
      h('thead', {}, h('tr', {}, ['Name', 'Status', 'Device group', 'Progress', 'Start', 'End', 'Duration']
        .map((name) => h('th', {scope: 'col'}, name)))),
      body);
    page('Jobs', slot, toolbar, summary, h('div', {class: 'scroll'}, table), more);

    function shown() {
      const wanted = status.value;
      const words = search.value.trim().toLowerCase();
      const rank = (job) => job.status === 'running' ? 0 : 1;
      return jobs.map((job, index) => [job, index])
        .filter(([job]) => (!wanted || job.status === wanted) &&
          (!words || (job.displayName || '').toLowerCase().includes(words) || job.id.toLowerCase().includes(words)))
        .sort(([a, i], [b, j]) => rank(a) - rank(b) || i - j)
        .map(([job]) => job);
    }

    function row(job) {
      const href = job.status === 'draft' && state.mayRun ? `#/jobs/${encodeURIComponent(job.id)}/edit`
        : `#/jobs/${encodeURIComponent(job.id)}`;
      return h('tr', {'data-job': job.id},
        h('th', {scope: 'row'}, h('a', {href}, job.displayName || job.id)),
        h('td', {}, statusBadge(job.status)),
        h('td', {}, groupName(groups, job.group)),
        h('td', {}, job.status === 'draft' ? h('span', {class: 'counts'}, 'Not started')
          : progressBar(job.progress, `Progress of ${job.displayName || job.id}`)),
        h('td', {}, when(job.start)),
        h('td', {}, when(job.end)),
        h('td', {}, duration(job)));
    }

    function render() {
      const visible = shown();
      replace(body, visible.length ? visible.map(row)
        : h('tr', {}, h('td', {colspan: 7, class: 'empty'}, jobs.length ? 'No loaded job matches.' : 'No jobs yet.')));
      summary.textContent = `${visible.length} of ${jobs.length} loaded jobs shown` +
        (nextLink ? '; more jobs are on the server (Load more jobs).' : '.');
      more.hidden = !nextLink;
    }

    async function load(url) {
      more.disabled = true;
      try {
        const [answer, known] = await Promise.all([call('GET', url), groups ? groups : groupsById().catch(() => null)]);
        if (!current(view)) return;
        groups = known;
        jobs.push(...answer.value.filter((job) => !jobs.some((seen) => seen.id === job.id)));
        nextLink = answer.nextLink || null;
        replace(slot);
        render();
        if (jobs.some((job) => ACTIVE.includes(job.status))) later(refreshActive, POLL_MS * 2);
      } catch (error) {
        if (current(view)) showError(slot, error);
      } finally {
        more.disabled = false;
      }
    }

    // Live rows: only the loaded jobs still pending or running are read again.
    async function refreshActive() {
      const active = jobs.filter((job) => ACTIVE.includes(job.status)).slice(0, 20);
      if (!active.length || !current(view)) return;
      const fresh = await Promise.all(active.map((job) => call('GET', `jobs/${encodeURIComponent(job.id)}`).catch(() => job)));
      if (!current(view)) return;
      fresh.forEach((job) => { jobs[jobs.findIndex((seen) => seen.id === job.id)] = job; });
      const focused = document.activeElement && document.activeElement.closest && document.activeElement.closest('tbody tr');
      if (!focused) render();
      later(refreshActive, POLL_MS * 2);
    }

    await load(`jobs?maxpagesize=${JOBS_PAGE}`);
  }

  // Device groups: the list, a new group, and one group (its query, edited, and its devices).

  const QUERY_HELP = 'An IoT Hub twin query, such as SELECT * FROM devices WHERE tags.region = "west". ' +
    'IoT Central\'s $id, $template and $provisioned work too.';

  async function groupsPage(view) {
    const groups = [];
    let nextLink = null;
    const slot = h('div', {tabindex: '-1'});
    const search = h('input', {id: 'filter-group-name', type: 'search', autocomplete: 'off', oninput: () => render()});
    const summary = h('p', {class: 'summary', role: 'status'});
    const body = h('tbody');
    const more = h('button', {type: 'button', hidden: true, onclick: () => load(nextLink)}, 'Load more device groups');
    page('Device groups', slot,
      h('div', {class: 'toolbar'},
        state.mayEditGroups ? h('button', {type: 'button', class: 'primary', onclick: () => go('#/new-group')}, 'New device group') : null,
        h('div', {class: 'field inline'}, h('label', {for: 'filter-group-name'}, 'Search by name'), search)),
      summary,
      h('div', {class: 'scroll'}, h('table', {class: 'groups'},
        h('caption', {class: 'visually-hidden'}, 'Device groups'),
        h('thead', {}, h('tr', {}, ['Name', 'Query', 'Description'].map((name) => h('th', {scope: 'col'}, name)))),
        body)),
      more);

    function render() {
      const words = search.value.trim().toLowerCase();
      const visible = groups.filter((g) => !words || g.displayName.toLowerCase().includes(words) || g.id.toLowerCase().includes(words));
      replace(body, visible.length ? visible.map((g) => h('tr', {'data-group': g.id},
        h('th', {scope: 'row'}, h('a', {href: `#/groups/${encodeURIComponent(g.id)}`}, g.displayName),
          g.corrupted ? h('span', {class: 'note'}, 'Corrupted: its query is no longer accepted') : null),
        h('td', {}, h('code', {}, g.filter)),
        h('td', {}, g.description || '')))
        : h('tr', {}, h('td', {colspan: 3, class: 'empty'}, groups.length ? 'No loaded device group matches.' : 'No device groups yet.')));
      summary.textContent = `${visible.length} of ${groups.length} loaded device groups shown` +
        (nextLink ? '; more are on the server (Load more device groups).' : '.');
      more.hidden = !nextLink;
    }

    async function load(url) {
      more.disabled = true;
      try {
        const answer = await call('GET', url);
        if (!current(view)) return;
        groups.push(...answer.value);
        nextLink = answer.nextLink || null;
        replace(slot);
        render();
      } catch (error) {
        if (current(view)) showError(slot, error);
      } finally {
        more.disabled = false;
      }
    }
    await load('deviceGroups?maxpagesize=100');
  }

  // The fields of a group as the form shows them; `group` null for a new one.
  function groupFields(group) {
    const kit = fieldKit();
    const {field, set} = kit;
    const name = h('input', {id: 'group-name', type: 'text', autocomplete: 'off', value: group ? group.displayName : ''});
    const groupId = group ? null : h('input', {id: 'group-id', type: 'text', autocomplete: 'off', spellcheck: 'false'});
    const description = h('textarea', {id: 'group-description', rows: 2});
    description.value = (group && group.description) || '';
    const query = h('textarea', {id: 'group-query', rows: 3, class: 'code', spellcheck: 'false'});
    query.value = group ? group.filter : 'SELECT * FROM devices WHERE ';
    const element = h('div', {class: 'definition'},
      field('group-name', 'Name', name),
      groupId ? field('group-id', 'Group ID', groupId,
        'Letters, digits, - and _. Left empty, it is made from the name.') : null,
      field('group-description', 'Description', description),
      field('group-query', 'Query', query, QUERY_HELP));
    const byTarget = {displayName: 'group-name', deviceGroupId: 'group-id', description: 'group-description', filter: 'group-query'};
    return {
      element,
      id: () => groupId && groupId.value.trim(),
      name: () => name.value.trim(),
      read() {
        return {displayName: name.value.trim(), filter: query.value.trim(), description: description.value.trim() || null};
      },
      clear: kit.clear,
      // Local checks first (the API would refuse these too): the first field in error, or null.
      check() {
        let first = null;
        const fail = (id, message) => { const control = set(id, message); first = first || control; };
        if (!name.value.trim()) fail('group-name', 'Enter a name.');
        if (groupId && groupId.value.trim() && !/^[A-Za-z0-9_-]{1,255}$/.test(groupId.value.trim())) {
          fail('group-id', 'Use only letters, digits, - and _ (at most 255).');
        }
        if (!/^\s*select\s/i.test(query.value)) fail('group-query', 'Enter a query starting with SELECT * FROM devices.');
        return first;
      },
      // The API's refusal, on the fields it names: the first field marked, or null.
      show(error) {
        let first = null;
        for (const problem of (error instanceof ApiError ? problems(error, {}) : [])) {
          const control = set(byTarget[problem.target], problem.message);
          first = first || control;
        }
        return first;
      },
    };
  }

  function slugOf(name) {
    const slug = name.normalize('NFKD').replace(/[^A-Za-z0-9]+/g, '-').replace(/^-+|-+$/g, '').toLowerCase().slice(0, 200);
    return `${slug || 'group'}-${randomId().slice(4, 10)}`;
  }

  async function groupForm(view) {
    if (!state.mayEditGroups) {
      return page('New device group', h('p', {class: 'error', role: 'alert'}, 'Your role may read device groups but not create or change them.'));
    }
    const slot = h('div', {tabindex: '-1'});
    const fields = groupFields(null);
    const save = h('button', {type: 'submit', class: 'primary'}, 'Save');
    const form = h('form', {class: 'group-form', novalidate: true, onsubmit: (event) => { event.preventDefault(); submit(); }},
      fields.element, h('div', {class: 'actions'}, save, h('a', {href: '#/groups', class: 'button quiet'}, 'Cancel')));
    page('New device group', slot, form);

    async function submit() {
      replace(slot);
      fields.clear();
      const invalid = fields.check();
      if (invalid) return attention(slot, invalid);
      const id = fields.id() || slugOf(fields.name());
      const definition = fields.read();
      if (!definition.description) delete definition.description;
      save.disabled = true;
      try {
        if (fields.id() && await exists(`deviceGroups/${encodeURIComponent(id)}`)) {
          throw new ApiError(409, {error: {target: 'deviceGroupId',
            message: 'a device group with this id exists already; choose another id or leave it empty.'}});
        }
        await call('PUT', `deviceGroups/${encodeURIComponent(id)}`, definition);
        state.groups = null;
        state.flash = 'Saved. These are the devices its query finds now.';
        go(`#/groups/${encodeURIComponent(id)}`);
      } catch (error) {
        if (!current(view)) return;
        showError(slot, error);
        (fields.show(error) || slot).focus();
      } finally {
        save.disabled = false;
      }
    }
  }

  async function exists(path) {
    try { await call('GET', path); return true; } catch (error) { if (error.status === 404) return false; throw error; }
  }

  function attention(slot, first) {
    replace(slot, h('div', {class: 'error', role: 'alert'}, h('p', {class: 'headline'}, 'Some fields need attention; they say why.')));
    (first || slot).focus();
  }

  async function groupPage(view, groupId) {
    const path = `deviceGroups/${encodeURIComponent(groupId)}`;
    let group;
    try {
      group = await call('GET', path);
    } catch (error) {
      if (current(view)) page('Device group', errorBox(error));
      return;
    }
    if (!current(view)) return;
    const slot = h('div', {tabindex: '-1'});
    const corruption = h('div');
    const preview = groupDevices(view, path);
    const heading = page(group.displayName, slot, corruption,
      state.mayEditGroups ? editor() : h('dl', {class: 'details'},
        [['Group ID', group.id], ['Description', group.description || '—'], ['Query', h('code', {}, group.filter)]]
          .map(([term, value]) => [h('dt', {}, term), h('dd', {}, value)])),
      preview.element);
    showCorruption();
    preview.reload();

    function showCorruption() {
      replace(corruption, group.corrupted ? h('p', {class: 'error', role: 'alert'},
        `This device group is corrupted, so it has no devices: ${group.corruptionReason || 'its query is no longer accepted'}. ` +
        (state.mayEditGroups ? 'Fix its query and save it; jobs cannot run on it until then.' : 'Jobs cannot run on it until its query is fixed.'))
        : null);
    }

    function editor() {
      const fields = groupFields(group);
      const save = h('button', {type: 'submit', class: 'primary'}, 'Save');
      return h('form', {class: 'group-form', novalidate: true, onsubmit: async (event) => {
        event.preventDefault();
        replace(slot);
        fields.clear();
        const invalid = fields.check();
        if (invalid) return attention(slot, invalid);
        save.disabled = true;
        try {
          group = await call('PATCH', path, fields.read(), {headers: {'If-Match': group.etag}});
          if (!current(view)) return;
          state.groups = null;
          heading.textContent = group.displayName;
          document.title = `${group.displayName} - Bulk jobs console`;
          replace(slot, h('p', {class: 'flash', role: 'status'}, 'Saved. The devices below are those its query finds now.'));
          showCorruption();
          await preview.reload(true);
        } catch (error) {
          if (!current(view)) return;
          showError(slot, error);
          (fields.show(error) || slot).focus();
        } finally {
          save.disabled = false;
        }
      }},
        h('p', {class: 'help'}, `Group ID: ${group.id}`),
        fields.element,
        h('div', {class: 'actions'}, save, h('a', {href: '#/groups', class: 'button quiet'}, 'Back to device groups')));
    }
  }

  // The devices a saved group's query finds, as IoT Hub answers it now, 50 a page.
  function groupDevices(view, groupPath) {
    let pages = [];
    let index = 0;
    const slot = h('div');
    const summary = h('p', {class: 'summary', role: 'status'});
    const body = h('tbody');
    const previous = h('button', {type: 'button', onclick: () => show(index - 1)}, 'Previous devices');
    const next = h('button', {type: 'button', onclick: () => show(index + 1)}, 'Next devices');
    const table = h('div', {class: 'scroll'}, h('table', {class: 'group-devices'},
      h('caption', {class: 'visually-hidden'}, 'Devices the query finds'),
      h('thead', {}, h('tr', {}, ['Name', 'Device ID', 'Device template', 'Connection', 'Enabled']
        .map((name) => h('th', {scope: 'col'}, name)))), body));
    const element = h('section', {'aria-labelledby': 'group-devices-heading'},
      h('h2', {id: 'group-devices-heading'}, 'Devices'), slot, summary, table, h('div', {class: 'pager'}, previous, next));

    async function show(at) {
      previous.disabled = next.disabled = true;
      try {
        const answer = await call('GET', pages[at]);
        if (!current(view)) return;
        replace(slot);
        if (answer.corrupted) {
          pages = pages.slice(0, 1);
          table.hidden = true;
          previous.hidden = next.hidden = true;
          summary.textContent = 'No devices: the group is corrupted.';
          return;
        }
        index = at;
        pages = pages.slice(0, at + 1);
        if (answer.nextLink) pages.push(answer.nextLink);
        table.hidden = false;
        replace(body, answer.value.length ? answer.value.map((device) => h('tr', {'data-device': device.id},
          h('th', {scope: 'row'}, device.displayName || device.id,
            device.iotEdge ? h('span', {class: 'note'}, 'IoT Edge device: jobs cannot target it') : null),
          h('td', {}, device.id),
          h('td', {}, device.template || '—'),
          h('td', {}, device.connectionState || '—'),
          h('td', {}, device.enabled ? 'Yes' : 'No')))
          : h('tr', {}, h('td', {colspan: 5, class: 'empty'}, 'The query finds no devices.')));
        const count = answer.value.length;
        summary.textContent = `${count} device${count === 1 ? '' : 's'} on this page` +
          (answer.nextLink ? '; more on the next page.' : (index ? '.' : ' (all of them).'));
        previous.disabled = index === 0;
        next.disabled = index + 1 >= pages.length;
        previous.hidden = next.hidden = pages.length <= 1;
      } catch (error) {
        if (current(view)) showError(slot, error);
      }
    }
    return {element, reload: () => { pages = [`${groupPath}/devices?maxpagesize=${DEVICES_PAGE}`]; return show(0); }};
  }

  // The job form: a new job, a draft being edited, or a copy (a draft too).

  async function jobForm(view, jobId) {
    if (!state.mayRun) {
      return page('New job', h('p', {class: 'error', role: 'alert'}, 'Your role may read jobs but not create or run them.'));
    }
    let draft = null;
    let groups;
    try {
      state.groups = null;  // the groups as they are now: they change elsewhere
      [draft, groups] = await Promise.all([jobId ? call('GET', `jobs/${encodeURIComponent(jobId)}`) : null, groupsById()]);
      if (!current(view)) return;
    } catch (error) {
      if (current(view)) page(jobId ? 'Edit job' : 'New job', errorBox(error));
      return;
    }
    if (draft && draft.status !== 'draft') { history.replaceState(null, '', `#/jobs/${encodeURIComponent(draft.id)}`); return route(); }

    const newId = jobId || (crypto.randomUUID ? crypto.randomUUID() : randomId());
    const slot = h('div', {tabindex: '-1'});
    const fields = fieldKit();
    const field = fields.field;
    const name = h('input', {id: 'job-name', type: 'text', autocomplete: 'off', value: draft ? draft.displayName : ''});
    const description = h('textarea', {id: 'job-description', rows: 2});
    description.value = (draft && draft.description) || '';
    const group = h('select', {id: 'job-group', onchange: () => devices.choose(group.value)},
      h('option', {value: ''}, 'Choose a device group'),
      [...groups.values()].map((g) => h('option', {value: g.id, selected: draft && draft.group === g.id},
        g.displayName + (g.corrupted ? ' (corrupted)' : ''))));
    if (draft && draft.group && !groups.has(draft.group)) {
      group.append(h('option', {value: draft.group, selected: true}, `${draft.group} (not found)`));
    }

    // Job type and operations
    let jobType = draft && draft.data[0] ? draft.data[0].type : 'property';
    const typeName_ = `job-type-${newId}`;
    const typeSet = radios('types', 'Job type', typeName_, TYPES, jobType, (value) => {
      jobType = value; operations.forEach((op) => op.retype()); syncTimeout();
    });
    const operations = [];
    const opList = h('ol', {class: 'operations'});
    function addOperation(data) {
      const n = uid('op');
      const path = h('input', {id: `${n}-path`, type: 'text', autocomplete: 'off', value: data ? data.path : ''});
      const value = h('textarea', {id: `${n}-value`, rows: 2, class: 'code', spellcheck: 'false'});
      value.value = data ? valueText(data.value) : '';
      const pathLabel = h('label', {for: path.id});
      const valueLabel = h('label', {for: value.id});
      const pathError = h('p', {class: 'field-error', id: `${n}-path-error`, hidden: true});
      const valueError = h('p', {class: 'field-error', id: `${n}-value-error`, hidden: true});
      const valueHelp = h('p', {class: 'help', id: `${n}-value-help`});
      path.setAttribute('aria-describedby', pathError.id);
      value.setAttribute('aria-describedby', `${valueHelp.id} ${valueError.id}`);
      const legend = h('legend');
      const ack = h('input', {type: 'checkbox', id: `${n}-ack`, checked: Boolean(data && data.completion === 'acknowledged'),
                              onchange: () => syncTimeout()});
      const ackRow = h('div', {class: 'choice'}, ack, h('label', {for: ack.id}, 'Wait for the device to acknowledge'));
      const remove = h('button', {type: 'button', class: 'quiet', onclick: () => {
        operations.splice(operations.indexOf(op), 1); item.remove(); renumber(); syncTimeout();
        (operations[operations.length - 1] || {path: add}).path.focus();
      }});
      const item = h('li', {}, h('fieldset', {class: 'operation'}, legend,
        h('div', {class: 'field'}, pathLabel, path, pathError),
        h('div', {class: 'field'}, valueLabel, value, valueHelp, valueError), ackRow, remove));
      const op = {path, value, item, legend, remove, pathError, valueError, ack,
        acknowledged: () => jobType === 'property' && ack.checked,
        retype() {
          const command = jobType === 'command';
          ackRow.hidden = jobType !== 'property';
          pathLabel.textContent = command ? 'Command name' : 'Property name';
          valueLabel.textContent = command ? 'Payload' : 'Value';
          valueHelp.textContent = command ? 'JSON, such as {"delay": 0}; leave empty for none.'
            : 'JSON, such as 3, "text", true or {"a": 1}.';
          op.check();
        },
        check() {
          const text = value.value.trim();
          let message = '';
          if (text) {
            try { JSON.parse(text); } catch (failure) { message = `Not valid JSON: ${failure.message}`; }
          } else if (jobType !== 'command') {
            message = value.dataset.touched ? 'Enter a value in JSON.' : '';
          }
          markField(value, valueError, message);
          return !message;
        },
        read() {
          const text = value.value.trim();
          const item = {type: jobType, path: path.value.trim()};
          if (text) item.value = JSON.parse(text);
          if (op.acknowledged()) item.completion = 'acknowledged';
          return item;
        }};
      value.addEventListener('input', () => op.check());
      value.addEventListener('blur', () => { value.dataset.touched = '1'; op.check(); });
      path.addEventListener('input', () => markField(path, pathError, ''));
      operations.push(op);
      opList.append(item);
      op.retype();
      renumber();
      return op;
    }
    function renumber() {
      operations.forEach((op, index) => {
        op.legend.textContent = `Operation ${index + 1}`;
        op.remove.textContent = `Remove operation ${index + 1}`;
        op.remove.hidden = operations.length === 1;
      });
    }
    const add = h('button', {type: 'button', class: 'add', title: 'Add an operation', onclick: () => addOperation().path.focus()}, '+');
    // How long a device may take to acknowledge, once an operation waits for it.
    const timeout = numberInput('job-timeout', draft && draft.timeout && draft.timeout.inProgressMinutes, '1');
    const timeoutField = field('job-timeout', 'Give up after (minutes)', timeout,
      'Optional (60 when left empty): a device that has not acknowledged by then fails with Timeout.');
    function syncTimeout() { timeoutField.hidden = !operations.some((op) => op.acknowledged()); }
    ((draft && draft.data.length) ? draft.data : [null]).forEach((data) => addOperation(data));
    syncTimeout();

    const devices = devicePicker(view, draft);
    const rollout = rolloutFields(draft);
    const run = h('button', {type: 'submit', class: 'primary'}, 'Run');
    const save = h('button', {type: 'button', onclick: () => submit(false)}, 'Save');
    const review = h('button', {type: 'button', onclick: () => submit(false, true)}, 'Review');
    const timing = scheduleFields((scheduled) => { run.textContent = scheduled ? 'Schedule' : 'Run'; save.hidden = review.hidden = scheduled; });
    const form = h('form', {class: 'job-form', novalidate: true, onsubmit: (event) => { event.preventDefault(); submit(true); }},
      h('div', {class: 'columns'},
        h('div', {class: 'definition'},
          field('job-name', 'Name', name),
          field('job-description', 'Description', description),
          field('job-group', 'Device group', group),
          typeSet,
          h('fieldset', {class: 'ops'}, h('legend', {}, 'Operations'), opList, add,
            h('span', {class: 'help', 'aria-hidden': 'true'}, ' Add an operation'), timeoutField)),
        devices.element),
      // After the devices, so the keyboard reaches Run once everything is chosen.
      rollout.element, timing.element,
      h('div', {class: 'actions'}, run, save, review, h('a', {href: '#/jobs', class: 'button quiet'}, 'Cancel')));
    page(draft ? `Edit ${draft.displayName || draft.id}` : 'New job', slot, form);
    if (draft && draft.group) devices.choose(draft.group);

    function clearErrors() {
      replace(slot);
      fields.clear();
      operations.forEach((op) => { markField(op.path, op.pathError, ''); });
      devices.setError('');
      rollout.clear();
      timing.clear();
    }
    function fieldFor(target) {
      const byName = {displayName: 'job-name', description: 'job-description', group: 'job-group', timeout: 'job-timeout',
                      'timeout.inProgressMinutes': 'job-timeout'}[target];
      if (byName) return fields.get(byName);
      const op = /^data\[(\d+)\](?:\.(\w+))?$/.exec(target || '');
      if (op && operations[Number(op[1])]) {
        const o = operations[Number(op[1])];
        if (op[2] === 'completion') return {control: o.ack, error: o.valueError};
        return op[2] === 'value' ? {control: o.value, error: o.valueError} : {control: o.path, error: o.pathError};
      }
      return rollout.fieldFor(target) || timing.fieldFor(target);
    }

    function body(forRun) {
      const data = operations.map((op) => op.read());
      const chosen = devices.selection();
      const definition = {displayName: name.value.trim() || undefined, group: group.value || undefined, data};
      const text = description.value.trim();
      if (text) definition.description = text;
      if (chosen) definition.devices = chosen;
      Object.entries(rollout.read()).forEach(([key, value]) => { if (value) definition[key] = value; });
      if (!timeoutField.hidden && !blank(timeout)) definition.timeout = {inProgressMinutes: numeric(timeout)};
      return definition;
    }

    function checkLocally(forRun) {
      let first = null;
      const fail = (control, error, message) => { markField(control, error, message); first = first || control; };
      operations.forEach((op) => {
        op.value.dataset.touched = '1';
        if (!op.check()) first = first || op.value;
        if (!op.path.value.trim()) fail(op.path, op.pathError, `Enter the ${jobType === 'command' ? 'command' : 'property'} name.`);
      });
      first = [first, rollout.check(), forRun && timing.check()].find(Boolean) || null;
      if (forRun && timing.scheduled() && devices.selection()) {
        devices.setError('A scheduled job runs on every device of its group: check "All devices in the group".');
        first = first || devices.focusTarget();
      }
      if (forRun && !group.value) { const f = fields.get('job-group'); fail(f.control, f.error, 'Choose a device group.'); }
      if (forRun && group.value && devices.selection() && !devices.selection().length) {
        devices.setError('Check "All devices in the group" or at least one device.');
        first = first || devices.focusTarget();
      }
      if (first) {
        replace(slot, h('div', {class: 'error', role: 'alert'}, h('p', {class: 'headline'}, 'Some fields need attention; they say why.')));
        first.focus();
        return false;
      }
      return true;
    }

    let busy = false;
    // Run, Save, or Review (saved as a draft, then its dry run before Run).
    async function submit(forRun, reviewing = false) {
      if (busy) return;
      clearErrors();
      if (!checkLocally(forRun || reviewing)) return;
      const definition = body(forRun);
      busy = true; run.disabled = save.disabled = review.disabled = true;
      const next = (id) => `#/jobs/${encodeURIComponent(id)}/${reviewing ? 'review' : 'edit'}`;
      try {
        if (forRun && timing.scheduled()) {
          const made = await call('PUT', `scheduledJobs/${encodeURIComponent(crypto.randomUUID ? crypto.randomUUID() : randomId())}`,
            {...definition, schedule: timing.read()});
          state.flash = `Scheduled: ${made.displayName}.`;
          return go('#/scheduled');
        }
        if (!draft && forRun) {
          const job = await call('PUT', `jobs/${encodeURIComponent(newId)}`, definition);
          state.flash = 'The job is running.';
          return go(`#/jobs/${encodeURIComponent(job.id)}`);
        }
        if (!draft) {
          const job = await call('POST', 'jobs', definition);
          state.flash = 'Saved as a draft.';
          return go(next(job.id));
        }
        const patch = {...definition};
        ['description', 'devices', ...OPTIONS].forEach((key) => { patch[key] = definition[key] || null; });
        let saved = await call('PATCH', `jobs/${encodeURIComponent(draft.id)}`, patch, {headers: {'If-Match': draft.etag}});
        draft = saved;
        if (forRun) {
          saved = await call('POST', `jobs/${encodeURIComponent(draft.id)}/run`, undefined, {headers: {'If-Match': saved.etag}});
          state.flash = 'The job is running.';
          return go(`#/jobs/${encodeURIComponent(saved.id)}`);
        }
        state.flash = 'Saved.';
        return go(next(draft.id));
      } catch (error) {
        if (!current(view)) return;
        showError(slot, error, {type: jobType, devices: definition.devices, retry: definition.retry});
        let focus = null;
        for (const problem of (error instanceof ApiError ? problems(error, {}) : [])) {
          const target = problem.target || '';
          const f = fieldFor(target);
          if (f) { markField(f.control, f.error, problem.message); focus = focus || f.control; }
          else if (/^devices/.test(target)) { devices.setError(`${fieldLabel(target, {devices: definition.devices})}: ${problem.message}`); }
        }
        (focus || slot).focus();
      } finally {
        busy = false; run.disabled = save.disabled = review.disabled = false;
      }
    }
  }

  function markField(control, error, message) {
    error.textContent = message;
    error.hidden = !message;
    if (message) control.setAttribute('aria-invalid', 'true'); else control.removeAttribute('aria-invalid');
    return control;
  }
  // Labelled fields with their error lines, found by id to show a refusal.
  function fieldKit() {
    const errors = new Map();
    const kit = {
      error(id, control, help) {
        const error = h('p', {class: 'field-error', id: `${id}-error`, hidden: true});
        errors.set(id, {control, error});
        control.setAttribute('aria-describedby', [help ? `${id}-help` : null, `${id}-error`].filter(Boolean).join(' '));
        return error;
      },
      field(id, label, control, help) {
        const error = kit.error(id, control, help);
        return h('div', {class: 'field'}, h('label', {for: id}, label), control,
          help ? h('p', {class: 'help', id: `${id}-help`}, help) : null, error);
      },
      set(id, message) {
        const f = errors.get(id);
        return f ? markField(f.control, f.error, message) : null;
      },
      clear() { errors.forEach((f, id) => kit.set(id, '')); },
      get: (id) => errors.get(id) || null,
    };
    return kit;
  }
  function numberInput(id, value, step = 'any') {
    return h('input', {id, type: 'number', min: '0', step, inputmode: 'decimal', autocomplete: 'off',
                       value: value === undefined || value === null ? '' : String(value)});
  }
  function radios(cls, legend, name, items, checked, onchange, more) {
    return h('fieldset', {class: cls}, h('legend', {}, legend), items.map(([value, label]) => {
      const id = uid('choice');
      return h('span', {class: 'choice'}, h('input', {type: 'radio', id, name, value, checked: value === checked, onchange: () => onchange(value)}),
        h('label', {for: id}, label));
    }), more);
  }
  function checkbox(id, label, checked, onchange) {
    return h('div', {class: 'choice'}, h('input', {type: 'checkbox', id, checked, onchange}), h('label', {for: id}, label));
  }
  const numeric = (input) => input.value.trim() === '' ? null : Number(input.value);
  const blank = (input) => input.value.trim() === '';

  // Rollout: batches and a cancellation threshold (IoT Central's), with our pause after each batch
  // and minimum sample before any cancellation; the rollout rate and retries (ours).
  function rolloutFields(draft) {
    const batch = (draft && draft.batch) || null;
    const threshold = (draft && draft.cancellationThreshold) || null;
    const kit = fieldKit();
    const field = kit.field;
    function unit(id, value) {
      return h('select', {id},
        h('option', {value: 'number', selected: value !== 'percentage'}, 'devices'),
        h('option', {value: 'percentage', selected: value === 'percentage'}, '% of the job\'s devices'));
    }
    const batchValue = numberInput('batch-size', batch && batch.value);
    const batchUnit = unit('batch-unit', batch && batch.type);
    const pause = h('input', {type: 'checkbox', id: 'batch-pause', checked: Boolean(batch && batch.pauseAfterEach)});
    const batchBody = h('div', {class: 'rollout-body', hidden: !batch},
      h('div', {class: 'pair'}, field('batch-size', 'Batch size', batchValue), field('batch-unit', 'Batch size in', batchUnit)),
      h('div', {class: 'choice'}, pause, h('label', {for: 'batch-pause'}, 'Pause after each batch')),
      h('p', {class: 'help'}, 'Devices are sent to in device ID order, one batch at a time: the next batch starts ' +
        'once every device of the one before has an outcome. Paused, the job stops after each batch until it is run again.'));
    const batchOn = checkbox('batch-on', 'Send in batches', Boolean(batch), () => { batchBody.hidden = !batchOn.firstChild.checked; sync(); });

    const thresholdValue = numberInput('threshold-value', threshold && threshold.value);
    const thresholdUnit = unit('threshold-unit', threshold && threshold.type);
    const perBatch = h('input', {type: 'checkbox', id: 'threshold-batch', checked: Boolean(threshold && threshold.batch),
                                 'aria-describedby': 'threshold-batch-help'});
    const minimum = numberInput('threshold-minimum', threshold && threshold.minNumberOfExecutedDevices, '1');
    const thresholdBody = h('div', {class: 'rollout-body', hidden: !threshold},
      h('div', {class: 'pair'}, field('threshold-value', 'Failed devices allowed', thresholdValue),
        field('threshold-unit', 'Failed devices allowed in', thresholdUnit)),
      h('div', {class: 'choice'}, perBatch, h('label', {for: 'threshold-batch'}, 'Apply to each batch')),
      h('p', {class: 'help', id: 'threshold-batch-help'}, 'Counts each batch\'s failures on its own (needs batches).'),
      field('threshold-minimum', 'Devices with an outcome before any cancellation', minimum,
        'Optional: so that a few early failures do not cancel a large job.'));
    const thresholdOn = checkbox('threshold-on', 'Cancellation threshold', Boolean(threshold), () => {
      thresholdBody.hidden = !thresholdOn.firstChild.checked; sync();
    });
    function sync() {
      perBatch.disabled = !batchOn.firstChild.checked;
      if (perBatch.disabled) perBatch.checked = false;
    }
    sync();
    const rate = rateFields(draft, kit);
    const retries = retryFields(draft, kit);
    const element = h('fieldset', {class: 'rollout'}, h('legend', {}, 'Rollout'), batchOn, batchBody, thresholdOn, thresholdBody,
      rate.element, retries.element);

    const byTarget = {'batch': 'batch-size', 'batch.value': 'batch-size', 'batch.type': 'batch-unit',
                      'cancellationThreshold': 'threshold-value', 'cancellationThreshold.value': 'threshold-value',
                      'cancellationThreshold.type': 'threshold-unit', 'cancellationThreshold.batch': 'threshold-value',
                      'cancellationThreshold.minNumberOfExecutedDevices': 'threshold-minimum', ...RATE_FIELDS, ...RETRY_FIELDS};
    return {
      element,
      // {batch, cancellationThreshold, rolloutRate, retry}, each null when off (a draft's PATCH then removes it).
      read() {
        const readBatch = batchOn.firstChild.checked
          ? {type: batchUnit.value, value: numeric(batchValue), ...(pause.checked ? {pauseAfterEach: true} : {})} : null;
        let readThreshold = null;
        if (thresholdOn.firstChild.checked) {
          readThreshold = {type: thresholdUnit.value, value: numeric(thresholdValue), batch: perBatch.checked};
          if (numeric(minimum) !== null) readThreshold.minNumberOfExecutedDevices = numeric(minimum);
        }
        return {batch: readBatch, cancellationThreshold: readThreshold, rolloutRate: rate.read(), retry: retries.read()};
      },
      clear: kit.clear,
      check() {
        let first = null;
        const fail = (id, message) => { const control = kit.set(id, message); first = first || control; };
        if (batchOn.firstChild.checked && (blank(batchValue) || !(Number(batchValue.value) > 0))) {
          fail('batch-size', 'Enter how many devices (or what percentage of them) each batch holds.');
        }
        if (thresholdOn.firstChild.checked && (blank(thresholdValue) || !(Number(thresholdValue.value) >= 0))) {
          fail('threshold-value', 'Enter how many devices (or what percentage of them) may fail.');
        }
        rate.check(fail);
        retries.check(fail);
        return first;
      },
      fieldFor(target) {
        return kit.get(byTarget[target] || retries.idFor(target) || (/^rolloutRate\.exponentialRate\.rate/.test(target) && 'ramp-every'));
      },
    };
  }

  // The rollout rate: a steady number of devices a minute, or an exponential ramp up to it.
  const RATE_FIELDS = {rolloutRate: 'rate-max', 'rolloutRate.maximumPerMinute': 'rate-max',
    'rolloutRate.exponentialRate': 'ramp-base', 'rolloutRate.exponentialRate.baseRatePerMinute': 'ramp-base',
    'rolloutRate.exponentialRate.incrementFactor': 'ramp-factor'};
  function rateFields(draft, kit) {
    const rate = (draft && draft.rolloutRate) || null;
    const ramp = (rate && rate.exponentialRate) || null;
    const grows = (ramp && ramp.rateIncreaseCriteria) || {};
    const max = numberInput('rate-max', rate && rate.maximumPerMinute, '1');
    const base = numberInput('ramp-base', ramp && ramp.baseRatePerMinute, '1');
    const factor = numberInput('ramp-factor', ramp && ramp.incrementFactor);
    const every = numberInput('ramp-every', grows.numberOfNotifiedDevices || grows.numberOfSucceededDevices, '1');
    const counted = h('select', {id: 'ramp-counted'},
      h('option', {value: 'numberOfNotifiedDevices'}, 'devices sent to'),
      h('option', {value: 'numberOfSucceededDevices', selected: Boolean(grows.numberOfSucceededDevices)}, 'devices completed'));
    const rampBody = h('div', {class: 'rollout-body', hidden: !ramp},
      h('div', {class: 'pair'}, kit.field('ramp-base', 'Start rate (devices per minute)', base),
        kit.field('ramp-factor', 'Factor', factor, '1.1 to 5'), kit.field('ramp-every', 'Grow every', every),
        kit.field('ramp-counted', 'Counting', counted)));
    const rampOn = checkbox('ramp-on', 'Ramp up exponentially', Boolean(ramp), () => { rampBody.hidden = !rampOn.firstChild.checked; });
    const body = h('div', {class: 'rollout-body', hidden: !rate},
      h('div', {class: 'pair'}, kit.field('rate-max', 'Devices per minute', max,
        'The most devices started in a minute; with a ramp, the rate it grows to (optional).')),
      rampOn, rampBody);
    const on = checkbox('rate-on', 'Rollout rate', Boolean(rate), () => { body.hidden = !on.firstChild.checked; });
    const ramped = () => rampOn.firstChild.checked;
    return {
      element: [on, body],
      read() {
        if (!on.firstChild.checked) return null;
        const read = numeric(max) === null ? {} : {maximumPerMinute: numeric(max)};
        if (ramped()) {
          read.exponentialRate = {baseRatePerMinute: numeric(base), incrementFactor: numeric(factor),
                                  rateIncreaseCriteria: {[counted.value]: numeric(every)}};
        }
        return read;
      },
      check(fail) {
        if (!on.firstChild.checked) return;
        if (!ramped() && blank(max)) fail('rate-max', 'Enter how many devices may be started in a minute.');
        if (!ramped()) return;
        if (blank(base)) fail('ramp-base', 'Enter the rate to start at.');
        else if (!blank(max) && Number(base.value) > Number(max.value)) fail('ramp-base', 'Start at most at the devices per minute.');
        if (blank(factor)) fail('ramp-factor', 'Enter the factor.');
        if (blank(every)) fail('ramp-every', 'Enter a number of devices.');
      },
    };
  }

  // Retries by failure class, with their backoff.
  const RETRY_CLASSES = [['DeviceNotOnline', 'DeviceNotOnline'], ['Timeout', 'Timeout'], ['Throttled', 'Throttled'],
                         ['DeviceRejected', 'DeviceRejected'], ['all', 'Any failure']];
  const retryName = (type) => (RETRY_CLASSES.find(([key]) => key === type) || [type, type])[1];
  const RETRY_FIELDS = {retry: 'retry-DeviceNotOnline', 'retry.criteria': 'retry-DeviceNotOnline', 'retry.backoff': 'retry-longest',
                        'retry.backoff.initialSeconds': 'retry-first', 'retry.backoff.maximumSeconds': 'retry-longest'};
  function retryFields(draft, kit) {
    const retry = (draft && draft.retry) || null;
    const backoff = (retry && retry.backoff) || {};
    let sent = [];
    const rows = RETRY_CLASSES.map(([type, label]) => {
      const criterion = retry && retry.criteria.find((c) => c.failureType === type);
      const count = numberInput(`retry-${type}-count`, criterion && criterion.numberOfRetries, '1');
      count.max = '10';
      const box = h('input', {type: 'checkbox', id: `retry-${type}`, checked: Boolean(criterion),
                              onchange: () => { count.disabled = !box.checked; }});
      count.disabled = !box.checked;
      const row = h('tr', {},
        h('td', {}, h('span', {class: 'choice'}, box, h('label', {for: box.id}, label)), kit.error(box.id, box)),
        h('td', {}, h('label', {for: count.id, class: 'visually-hidden'}, `Number of retries after ${label}`), count,
          kit.error(count.id, count)));
      return {type, box, count, row};
    });
    const first = numberInput('retry-first', backoff.initialSeconds, '1');
    const longest = numberInput('retry-longest', backoff.maximumSeconds, '1');
    const body = h('div', {class: 'rollout-body', hidden: !retry},
      h('table', {class: 'retries'}, h('caption', {class: 'visually-hidden'}, 'Retries by failure'),
        h('thead', {}, h('tr', {}, h('th', {scope: 'col'}, 'Retry after'), h('th', {scope: 'col'}, 'Number of retries (0 to 10)'))),
        h('tbody', {}, rows.map((r) => r.row))),
      h('p', {class: 'help'}, 'Any failure: every failure not listed on its own. Commands are retried only when the device cannot have run them.'),
      h('div', {class: 'pair'}, kit.field('retry-first', 'First wait (seconds)', first),
        kit.field('retry-longest', 'Longest wait (seconds)', longest)),
      h('p', {class: 'help'}, 'Optional (30 and 600 s): the wait doubles from the first to the longest.'));
    const on = checkbox('retry-on', 'Retries', Boolean(retry), () => { body.hidden = !on.firstChild.checked; });
    const chosen = () => rows.filter((r) => r.box.checked);
    return {
      element: [on, body],
      read() {
        sent = on.firstChild.checked ? chosen().map((r) => r.type) : [];
        if (!on.firstChild.checked) return null;
        const read = {criteria: chosen().map((r) => ({failureType: r.type, numberOfRetries: numeric(r.count)}))};
        if (!blank(first) || !blank(longest)) {
          read.backoff = {...(blank(first) ? {} : {initialSeconds: numeric(first)}), ...(blank(longest) ? {} : {maximumSeconds: numeric(longest)})};
        }
        return read;
      },
      check(fail) {
        if (!on.firstChild.checked) return;
        if (!chosen().length) fail('retry-DeviceNotOnline', 'Check at least one failure to retry after.');
        chosen().filter((r) => blank(r.count)).forEach((r) => fail(r.count.id, 'Enter a number of retries, 0 to 10.'));
      },
      // retry.criteria[i]: the row of the i-th failure class sent.
      idFor(target) {
        const found = /^retry\.criteria\[(\d+)\](?:\.(\w+))?$/.exec(target || '');
        const type = found && sent[Number(found[1])];
        return type ? (found[2] === 'failureType' ? `retry-${type}` : `retry-${type}-count`) : null;
      },
    };
  }

  // A job's rollout in words, for its details.
  function batchText(batch) {
    const size = batch.type === 'percentage' ? `${batch.value} % of the devices` : `${batch.value} device${batch.value === 1 ? '' : 's'}`;
    return `${size} a batch${batch.pauseAfterEach ? ', paused after each batch' : ''}`;
  }
  function thresholdText(threshold) {
    const size = threshold.type === 'percentage' ? `${threshold.value} %` : `${threshold.value} device${threshold.value === 1 ? '' : 's'}`;
    return `Cancelled when more than ${size} failed${threshold.batch ? ' in a batch' : ''}` +
      (threshold.minNumberOfExecutedDevices ? `, once ${threshold.minNumberOfExecutedDevices} devices have an outcome` : '');
  }

  function rateText(rate) {
    const ramp = rate.exponentialRate;
    const most = rate.maximumPerMinute ? `${plural(rate.maximumPerMinute, 'device')} a minute` : null;
    if (!ramp) return `At most ${most}`;
    const grows = ramp.rateIncreaseCriteria;
    const every = grows.numberOfSucceededDevices ? `${plural(grows.numberOfSucceededDevices, 'device')} completed`
      : `${plural(grows.numberOfNotifiedDevices, 'device')} sent to`;
    return `From ${plural(ramp.baseRatePerMinute, 'device')} a minute, multiplied by ${ramp.incrementFactor} after every ${every}, ` +
      (most ? `up to ${most}` : 'with no maximum');
  }
  function retryText(retry) {
    const backoff = retry.backoff || {};
    const retries = (n) => `${n} retr${n === 1 ? 'y' : 'ies'}`;
    return `${retry.criteria.map((c) => `after ${retryName(c.failureType)}: ${retries(c.numberOfRetries)}`).join('; ')}; ` +
      `waiting ${secondsText(backoff.initialSeconds || 30)} at first, doubling, at most ${secondsText(backoff.maximumSeconds || 600)}`;
  }
  // The job's operations and its rollout, as its review and its overview show them.
  const operationsEntry = (job) => ['Operations', h('ul', {class: 'plain'}, job.data.map((op) =>
    h('li', {}, h('code', {}, op.path), op.value === undefined || op.value === null ? '' : [' = ', h('code', {}, valueText(op.value))],
      op.completion === 'acknowledged' ? ', once the device acknowledges it' : '')))];
  const rolloutEntries = (job) => [
    job.batch ? ['Batches', batchText(job.batch)] : null,
    job.cancellationThreshold ? ['Cancellation threshold', thresholdText(job.cancellationThreshold)] : null,
    job.rolloutRate ? ['Rollout rate', rateText(job.rolloutRate)] : null,
    job.retry ? ['Retries', retryText(job.retry)] : null,
    job.timeout ? ['Give up after', `${plural(job.timeout.inProgressMinutes, 'minute')} without an acknowledgement (the device fails with Timeout)`] : null];

  // Each rollout batch of a job, with its own progress.
  function batchesTable(batches) {
    return h('div', {class: 'scroll'}, h('table', {class: 'batches'},
      h('caption', {class: 'visually-hidden'}, 'Rollout batches'),
      h('thead', {}, h('tr', {}, ['Batch', 'Status', 'Progress', 'Devices'].map((name) => h('th', {scope: 'col'}, name)))),
      h('tbody', {}, batches.map((batch) => h('tr', {'data-batch': batch.index},
        h('th', {scope: 'row'}, `Batch ${batch.index}`),
        h('td', {}, statusBadge(batch.status)),
        h('td', {}, progressBar(batch, `Progress of batch ${batch.index}`)),
        h('td', {}, batch.firstDeviceId === batch.lastDeviceId ? batch.firstDeviceId || '—'
          : `${batch.firstDeviceId} to ${batch.lastDeviceId}`))))));
  }

  // The review step before Run: the draft's dry run (POST /jobs/{id}/preview), asked of IoT Hub
  // now, then Run with the ETag it previewed (412 if someone edited it meanwhile).
  const REFUSALS = {
    DeviceNotInGroup: ['Picked but not in the group', true],
    EdgeDeviceNotSupported: ['Picked but IoT Edge devices, which jobs cannot target', true],
    EdgeNotSupported: ['IoT Edge devices of the group (they fail without being sent anything)', false],
    ModelMismatch: ['Of another device model than the operations target (they fail without being sent anything)', false],
  };
  const LIMITED_BY = {twinUpdates: 'IoT Hub\'s twin update quota', directMethods: 'IoT Hub\'s direct method quota',
                      rolloutRate: 'the job\'s rollout rate'};
  function secondsText(total) {
    let seconds = Math.max(0, Math.ceil(total));
    const hours = Math.floor(seconds / 3600); seconds -= hours * 3600;
    const minutes = Math.floor(seconds / 60); seconds -= minutes * 60;
    return [hours ? `${hours} h` : '', minutes ? `${minutes} min` : '', (seconds || (!hours && !minutes)) ? `${seconds} s` : '']
      .filter(Boolean).join(' ');
  }
  const plural = (n, word) => `${n} ${word}${n === 1 ? '' : /(s|ch)$/.test(word) ? 'es' : 's'}`;

  // The job and the groups by id (null when they cannot be read), or null once the page
  // showed why the job could not be read, or moved on.
  async function loadJob(view, path, title) {
    try {
      const [job, groups] = await Promise.all([call('GET', path), groupsById().catch(() => null)]);
      return current(view) ? {job, groups} : null;
    } catch (error) {
      if (current(view)) page(title, errorBox(error));
      return null;
    }
  }

  async function jobReview(view, jobId) {
    const path = `jobs/${encodeURIComponent(jobId)}`;
    const loaded = await loadJob(view, path, 'Review');
    if (!loaded) return;
    const {job, groups} = loaded;
    if (job.status !== 'draft' || !state.mayRun) {
      history.replaceState(null, '', `#/jobs/${encodeURIComponent(job.id)}`);
      return route();
    }
    const slot = h('div', {tabindex: '-1'});
    const summary = h('div', {class: 'review', 'aria-live': 'polite'}, h('p', {class: 'help'}, 'Asking IoT Hub what running it would do…'));
    let previewed = null;
    const run = h('button', {type: 'button', class: 'primary', disabled: true, onclick: async () => {
      run.disabled = true;
      replace(slot);
      try {
        await call('POST', `${path}/run`, undefined, previewed ? {headers: {'If-Match': previewed.etag}} : {});
        state.flash = 'The job is running.';
        go(`#/jobs/${encodeURIComponent(job.id)}`);
      } catch (error) {
        if (!current(view)) return;
        showError(slot, error, {type: job.data[0] && job.data[0].type, devices: job.devices});
        run.disabled = false;
      }
    }}, 'Run');
    const edit = h('button', {type: 'button', onclick: () => go(`#/jobs/${encodeURIComponent(job.id)}/edit`)}, 'Edit');
    const who = [['Device group', groupName(groups, job.group)],
      ['Devices', job.devices ? `${job.devices.length} chosen` : 'All devices in the group'],
      ['Job type', job.data.length ? typeName(job.data[0].type) : '—'],
      operationsEntry(job),
      ...rolloutEntries(job)].filter(Boolean);
    page(`Review ${job.displayName || job.id}`, slot,
      h('section', {'aria-labelledby': 'review-heading'}, h('h2', {id: 'review-heading'}, 'What running it would do'), summary),
      h('section', {'aria-labelledby': 'definition-heading'}, h('h2', {id: 'definition-heading'}, 'The job'),
        h('dl', {class: 'details'}, who.map(([term, value]) => [h('dt', {}, term), h('dd', {}, value)]))),
      h('div', {class: 'actions'}, run, edit));

    try {
      previewed = await call('POST', `${path}/preview`);
    } catch (error) {
      if (!current(view)) return;
      replace(summary, h('p', {class: 'help'}, 'No estimate: the dry run was refused (above).'));
      showError(slot, error, {type: job.data[0] && job.data[0].type, devices: job.devices});
      run.disabled = false;
      return;
    }
    if (!current(view)) return;
    const blocking = previewed.refusals.filter((refusal) => refusal.refusesRun);
    const estimate = previewed.estimatedDuration || {};
    const entries = [
      ['Devices targeted', String(previewed.targets)],
      ['Sent to', `${previewed.toSend}${previewed.offline ? `, of which ${previewed.offline} offline now` : ''}`],
      ['Refused', previewed.refused ? h('ul', {class: 'plain'}, previewed.refusals.map((refusal) =>
        h('li', {}, `${(REFUSALS[refusal.code] || [refusal.code])[0]}: ${refusal.count}`))) : 'None'],
      previewed.batches ? ['Batches', `${plural(previewed.batches.count, 'batch')} of ${plural(previewed.batches.size, 'device')}` +
        (previewed.batches.count > 1 && previewed.batches.lastSize !== previewed.batches.size ? ` (the last of ${previewed.batches.lastSize})` : '') +
        (previewed.batches.pauseAfterEach ? ', paused after each' : '')] : null,
      ['Estimated duration', `at least ${secondsText(estimate.seconds || 0)}` +
        (estimate.limitedBy ? `, about ${Math.round(estimate.devicesPerMinute)} devices a minute, set by ${LIMITED_BY[estimate.limitedBy] || estimate.limitedBy}` : '') +
        ' (other jobs on the hub, device round trips, pauses and maintenance windows come on top)'],
    ].filter(Boolean);
    replace(summary,
      blocking.length ? h('p', {class: 'error', role: 'alert'}, `Run would be refused. ${blocking.map((refusal) =>
        `${REFUSALS[refusal.code][0]}: ${refusal.count}`).join('; ')}. Edit the job's devices first.`) : null,
      h('dl', {class: 'details'}, entries.map(([term, value]) => [h('dt', {}, term), h('dd', {}, value)])));
    run.disabled = blocking.length > 0;
  }

  // When a job runs: now, or on a schedule (a scheduled job: each run is a job of its own).
  const REPEATS = [['', 'Once'], ['daily', 'Daily'], ['weekly', 'Weekly'], ['monthly', 'Monthly']];
  const SCHEDULE_LABELS = {schedule: 'Start', 'schedule.start': 'Start', 'schedule.timeZone': 'Time zone', 'schedule.recurrence': 'Repeat',
                           'schedule.end': 'Ends', 'schedule.end.date': 'End date', 'schedule.end.occurrences': 'Number of runs'};
  const SCHEDULE_FIELDS = {'Start': 'schedule-start', 'Time zone': 'schedule-zone', 'Repeat': 'schedule-repeat', 'Ends': 'schedule-ends',
                           'End date': 'schedule-end-date', 'Number of runs': 'schedule-count'};
  // The instant at which the wall clock of `zone` shows `local` (YYYY-MM-DDTHH:MM).
  function zonedInstant(local, zone) {
    const wall = Date.parse(`${local}Z`);
    const parts = {hourCycle: 'h23', timeZone: zone, year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric'};
    let instant = wall;
    for (let i = 0; i < 2; i += 1) {
      const p = Object.fromEntries(new Intl.DateTimeFormat('en-US', parts).formatToParts(new Date(instant)).map((x) => [x.type, Number(x.value)]));
      instant = wall - (Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute) - Math.floor(instant / 60000) * 60000);
    }
    return new Date(instant);
  }
  const zonedWhen = (text, zone) => `${new Intl.DateTimeFormat(undefined, {dateStyle: 'medium', timeStyle: 'short', timeZone: zone})
    .format(new Date(text))} ${zone}`;
  function scheduleText(schedule) {
    const end = schedule.end || {};
    return `${(REPEATS.find(([key]) => key === (schedule.recurrence || '')) || REPEATS[0])[1]}, ${schedule.recurrence ? 'from' : 'at'} ` +
      zonedWhen(schedule.start, schedule.timeZone) + (end.date ? `, until ${end.date}` : end.occurrences ? `, ${end.occurrences} runs` : '');
  }

  function scheduleFields(onchange) {
    const kit = fieldKit();
    const start = h('input', {id: 'schedule-start', type: 'datetime-local'});
    const zone = h('input', {id: 'schedule-zone', type: 'text', autocomplete: 'off', spellcheck: 'false',
                             value: Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC'});
    const repeat = h('select', {id: 'schedule-repeat', onchange: () => sync()}, REPEATS.map(([value, label]) => h('option', {value}, label)));
    const ends = h('select', {id: 'schedule-ends', onchange: () => sync()}, h('option', {value: ''}, 'Never'),
      h('option', {value: 'date'}, 'On a date'), h('option', {value: 'occurrences'}, 'After a number of runs'));
    const endDate = h('input', {id: 'schedule-end-date', type: 'date'});
    const count = numberInput('schedule-count', null, '1');
    const endsField = kit.field('schedule-ends', 'Ends', ends);
    const dateField = kit.field('schedule-end-date', 'End date', endDate);
    const countField = kit.field('schedule-count', 'Number of runs', count);
    const body = h('div', {class: 'rollout-body', hidden: true},
      h('div', {class: 'pair'}, kit.field('schedule-start', 'Start', start),
        kit.field('schedule-zone', 'Time zone', zone, 'Runs keep its wall-clock time.')),
      h('div', {class: 'pair'}, kit.field('schedule-repeat', 'Repeat', repeat), endsField, dateField, countField));
    const element = radios('rollout types', 'When', 'when', [['now', 'Run now'], ['schedule', 'Schedule']], 'now', () => sync(), body);
    const scheduled = () => element.querySelector('[value=schedule]').checked;
    function sync() {
      body.hidden = !scheduled();
      endsField.hidden = !repeat.value;
      dateField.hidden = endsField.hidden || ends.value !== 'date';
      countField.hidden = endsField.hidden || ends.value !== 'occurrences';
      onchange(scheduled());
    }
    sync();
    return {
      element, scheduled, clear: kit.clear,
      read() {
        const read = {start: zonedInstant(start.value, zone.value.trim()).toISOString(), timeZone: zone.value.trim()};
        if (repeat.value) read.recurrence = repeat.value;
        if (!dateField.hidden) read.end = {type: 'date', date: endDate.value};
        if (!countField.hidden) read.end = {type: 'occurrences', occurrences: numeric(count)};
        return read;
      },
      check() {
        if (!scheduled()) return null;
        let first = null;
        const fail = (id, message) => { const control = kit.set(id, message); first = first || control; };
        try { new Intl.DateTimeFormat('en-US', {timeZone: zone.value.trim()}); } catch (ignored) {
          fail('schedule-zone', 'Enter an IANA time zone, such as Europe/Berlin or UTC.');
        }
        if (!start.value) fail('schedule-start', 'Enter when the first run starts.');
        if (!dateField.hidden && !endDate.value) fail('schedule-end-date', 'Enter the last date with runs.');
        if (!countField.hidden && blank(count)) fail('schedule-count', 'Enter how many runs there are.');
        return first;
      },
      fieldFor: (target) => kit.get(SCHEDULE_FIELDS[SCHEDULE_LABELS[target]]),
    };
  }

  // Scheduled jobs: when each runs next, enabled or not, deleted.
  async function scheduledPage(view) {
    const slot = h('div', {tabindex: '-1'});
    const body = h('tbody');
    const scheduled = [];
    let groups = null;
    page('Scheduled jobs', slot, h('div', {class: 'scroll'}, h('table', {class: 'scheduled'},
      h('caption', {class: 'visually-hidden'}, 'Scheduled jobs'),
      h('thead', {}, h('tr', {}, ['Name', 'Device group', 'Schedule', 'Next runs', 'Enabled', state.mayRun ? 'Actions' : null]
        .filter(Boolean).map((name) => h('th', {scope: 'col'}, name)))), body)));

    function act(label, job, change) {
      return h('button', {type: 'button', onclick: async () => {
        replace(slot);
        try { await change(`scheduledJobs/${encodeURIComponent(job.id)}`, {headers: {'If-Match': job.etag}}); render(); } catch (error) {
          if (current(view)) showError(slot, error);
        }
      }}, label);
    }
    function row(job) {
      const runs = job.completed ? 'None: every run is over' : job.enabled ? h('ul', {class: 'plain'}, job.nextRuns.map((t) =>
        h('li', {}, zonedWhen(t, job.schedule.timeZone)))) : 'None while disabled';
      return h('tr', {'data-scheduled': job.id},
        h('th', {scope: 'row'}, job.displayName, job.lastError ? h('span', {class: 'note'}, `Last run refused: ${job.lastError}`) : null),
        h('td', {}, groupName(groups, job.group)),
        h('td', {}, scheduleText(job.schedule), job.missed ? h('span', {class: 'note'}, `${plural(job.missed, 'run')} missed`) : null),
        h('td', {}, runs),
        h('td', {}, job.enabled ? 'Yes' : 'No'),
        state.mayRun ? h('td', {},
          act(job.enabled ? 'Disable' : 'Enable', job, async (path, options) => {
            scheduled[scheduled.indexOf(job)] = await call('PATCH', path, {enabled: !job.enabled}, options);
          }),
          ' ',
          act('Delete', job, async (path, options) => {
            if (!confirm(`Delete ${job.displayName}? Its runs to come never start.`)) return;
            await call('DELETE', path, undefined, options);
            scheduled.splice(scheduled.indexOf(job), 1);
            replace(slot, h('p', {class: 'flash', role: 'status'}, `Deleted ${job.displayName}.`));
          })) : null);
    }
    function render() {
      replace(body, scheduled.length ? scheduled.map(row)
        : h('tr', {}, h('td', {colspan: 6, class: 'empty'}, 'No scheduled jobs.')));
    }
    try {
      groups = await groupsById().catch(() => null);
      for (let url = 'scheduledJobs?maxpagesize=1000'; url;) {
        const answer = await call('GET', url);
        scheduled.push(...answer.value);
        url = answer.nextLink;
      }
      if (current(view)) render();
    } catch (error) {
      if (current(view)) showError(slot, error);
    }
  }

  function randomId() {
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    return 'job-' + [...bytes].map((b) => b.toString(16).padStart(2, '0')).join('');
  }

  // The devices of the chosen group, beside the form: all of them (no subset), or those checked.

  function devicePicker(view, draft) {
    let all = !(draft && draft.devices);
    const selected = new Set((draft && draft.devices) || []);
    let pages = [];
    let index = 0;
    let rows = [];
    let groupId = null;
    let generation = 0;
    const status = h('p', {class: 'summary', role: 'status'});
    const message = h('div');
    const error = h('p', {class: 'field-error', id: 'devices-error', hidden: true});
    const allBox = h('input', {type: 'checkbox', id: 'all-devices', checked: all, 'aria-describedby': 'devices-error',
                               onchange: () => { all = allBox.checked; selected.clear(); render(); }});
    const pageBox = h('input', {type: 'checkbox', 'aria-label': 'Select every device on this page',
                                onchange: () => selectPage(pageBox.checked)});
    const body = h('tbody');
    const previous = h('button', {type: 'button', onclick: () => show(index - 1)}, 'Previous devices');
    const next = h('button', {type: 'button', onclick: () => show(index + 1)}, 'Next devices');
    const table = h('table', {class: 'devices'},
      h('caption', {class: 'visually-hidden'}, 'Devices of the group'),
      h('thead', {}, h('tr', {},
        h('th', {scope: 'col'}, h('span', {class: 'check-head'}, pageBox, h('span', {}, 'Name'))),
        h('th', {scope: 'col'}, 'Device ID'), h('th', {scope: 'col'}, 'Connection'))), body);
    const controls = h('div', {class: 'devices-body', hidden: true},
      h('div', {class: 'all'}, allBox, h('label', {for: 'all-devices'}, 'All devices in the group')),
      status, error, h('div', {class: 'scroll'}, table), h('div', {class: 'pager'}, previous, next));
    const element = h('section', {class: 'device-picker', 'aria-labelledby': 'devices-heading'},
      h('h2', {id: 'devices-heading'}, 'Devices'), message, controls);
    replace(message, h('p', {class: 'help'}, 'Choose a device group to see its devices.'));

    async function choose(id) {
      generation += 1;
      const mine = generation;
      if (groupId !== null && id !== groupId) { all = true; selected.clear(); }
      groupId = id;
      allBox.checked = all;
      setError('');
      if (!id) { controls.hidden = true; return replace(message, h('p', {class: 'help'}, 'Choose a device group to see its devices.')); }
      pages = [`deviceGroups/${encodeURIComponent(id)}/devices?maxpagesize=${DEVICES_PAGE}`];
      await show(0, mine);
    }

    async function show(at, mine = generation) {
      replace(message, h('p', {class: 'help'}, 'Loading the devices…'));
      previous.disabled = next.disabled = true;
      try {
        const answer = await call('GET', pages[at]);
        if (mine !== generation || !current(view)) return;
        if (answer.corrupted) {
          controls.hidden = true;
          return replace(message, h('p', {class: 'error', role: 'alert'},
            `This device group is corrupted, so it has no devices: ${answer.corruptionReason || 'its query is no longer accepted'}. ` +
            'Fix its query before running a job on it.'));
        }
        index = at;
        rows = answer.value;
        pages = pages.slice(0, at + 1);
        if (answer.nextLink) pages.push(answer.nextLink);
        replace(message);
        controls.hidden = false;
        build();
        render();
      } catch (failure) {
        if (mine === generation && current(view)) replace(message, errorBox(failure));
      }
    }

    function selectable(device) { return !device.iotEdge; }

    // The page's rows, made once per page shown; a change of selection only updates the checkboxes
    // (a row made anew would take the keyboard focus away).
    let boxes = [];
    function build() {
      boxes = rows.map((device, n) => {
        const id = `device-${generation}-${index}-${n}`;
        return h('input', {type: 'checkbox', id, disabled: !selectable(device),
                           'aria-describedby': device.iotEdge ? `${id}-note` : null,
                           onchange: (event) => toggle(device, event.target.checked)});
      });
      replace(body, rows.length ? rows.map((device, n) => h('tr', {},
        h('td', {}, h('span', {class: 'check-cell'}, boxes[n], h('label', {for: boxes[n].id}, device.displayName || device.id)),
          device.iotEdge ? h('span', {class: 'note', id: `${boxes[n].id}-note`}, 'IoT Edge device: jobs cannot target it') : null),
        h('td', {}, device.id),
        h('td', {}, device.connectionState || '—')))
        : h('tr', {}, h('td', {colspan: 3, class: 'empty'}, 'The group has no devices.')));
    }

    function render() {
      allBox.checked = all;
      boxes.forEach((box, n) => { box.checked = selectable(rows[n]) && (all || selected.has(rows[n].id)); });
      const page = rows.filter(selectable);
      const checkedHere = page.filter((device) => all || selected.has(device.id)).length;
      pageBox.checked = page.length > 0 && checkedHere === page.length;
      pageBox.indeterminate = checkedHere > 0 && checkedHere < page.length;
      pageBox.disabled = page.length === 0;
      status.textContent = all ? 'The job runs on every device of the group, on every page.'
        : `${selected.size} device${selected.size === 1 ? '' : 's'} selected.`;
      previous.disabled = index === 0;
      next.disabled = index + 1 >= pages.length;
      previous.hidden = next.hidden = pages.length <= 1;
    }

    function leaveAll() {
      if (!all) return;
      all = false;
      rows.filter(selectable).forEach((device) => selected.add(device.id));
    }
    function toggle(device, checked) {
      leaveAll();
      if (checked) selected.add(device.id); else selected.delete(device.id);
      setError('');
      render();
    }
    function selectPage(checked) {
      leaveAll();
      rows.filter(selectable).forEach((device) => checked ? selected.add(device.id) : selected.delete(device.id));
      setError('');
      render();
    }
    function setError(text) {
      error.textContent = text;
      error.hidden = !text;
      if (text) allBox.setAttribute('aria-invalid', 'true'); else allBox.removeAttribute('aria-invalid');
    }

    return {element, choose, setError, focusTarget: () => allBox,
            selection: () => all ? null : [...selected]};
  }

  // A job's overview: details, live progress, its devices, and what may be done to it.

  async function jobOverview(view, jobId) {
    const path = `jobs/${encodeURIComponent(jobId)}`;
    const loaded = await loadJob(view, path, 'Job');
    if (!loaded) return;
    let {job, groups} = loaded;
    const slot = h('div', {tabindex: '-1'});
    const statusLine = h('p', {class: 'status-line', role: 'status'});
    const actions = h('div', {class: 'actions'});
    const progressSlot = h('div');
    const details = h('dl', {class: 'details'});
    const devices = jobDevices(view, path, Boolean(job.retry));
    const heading = page(job.displayName || job.id, slot, statusLine, actions,
      h('section', {'aria-labelledby': 'progress-heading'}, h('h2', {id: 'progress-heading'}, 'Progress'), progressSlot),
      h('section', {'aria-labelledby': 'details-heading'}, h('h2', {id: 'details-heading'}, 'Details'), details),
      devices.element);

    function button(label, handler, primary) {
      return h('button', {type: 'button', class: primary ? 'primary' : null, onclick: async (event) => {
        const pressed = event.currentTarget;
        pressed.disabled = true;
        replace(slot);
        try { await handler(); } catch (error) { if (current(view)) showError(slot, error); }
        finally { pressed.disabled = false; }
      }}, label);
    }

    let shownActions = '';
    function render() {
      heading.textContent = job.displayName || job.id;
      replace(statusLine, 'Status: ', statusBadge(job.status), job.reason ? ` — ${job.reason}` : '');
      renderActions();
      renderProgressAndDetails();
    }

    function renderActions() {
      const may = state.mayRun;
      const ended = ENDED.includes(job.status);
      const key = `${job.status} ${job.progress.failed > 0}`;
      if (key === shownActions) return;  // unchanged: keep the buttons (and the focus) as they are
      shownActions = key;
      const focusedLabel = actions.contains(document.activeElement) ? document.activeElement.textContent : null;
      replace(actions,
        may && job.status === 'draft' ? button('Edit', () => go(`#/jobs/${encodeURIComponent(job.id)}/edit`)) : null,
        may && job.status === 'draft' ? button('Run', async () => { await call('POST', `${path}/run`); await refresh(); }, true) : null,
        may && job.status === 'draft' ? button('Review', () => go(`#/jobs/${encodeURIComponent(job.id)}/review`)) : null,
        may && ACTIVE.includes(job.status) ? button('Stop', async () => { await call('POST', `${path}/stop`); await refresh(); }) : null,
        may && job.status === 'stopped' ? button('Run', async () => { await call('POST', `${path}/resume`); await refresh(); }, true) : null,
        may ? button('Copy', async () => {
          const copy = await call('POST', `${path}/copy`);
          state.flash = `Copied: this is a new draft. Its devices are read from the group again when it runs.`;
          go(`#/jobs/${encodeURIComponent(copy.id)}/edit`);
        }) : null,
        may && ended && job.progress.failed > 0 ? button('Rerun on failed', async () => {
          const rerunId = `${job.id.slice(0, 200)}-rerun-${randomId().slice(4, 12)}`;
          const rerun = await call('PUT', `${path}/rerun/${encodeURIComponent(rerunId)}`);
          state.flash = `A new job runs the operations again on the ${job.progress.failed} failed device${job.progress.failed === 1 ? '' : 's'}.`;
          go(`#/jobs/${encodeURIComponent(rerun.id)}`);
        }) : null,
        button('Download job details', () => download(`${path}/report.csv`, `job-${job.id}.csv`)));
      if (focusedLabel) {
        const again = [...actions.querySelectorAll('button')].find((b) => b.textContent === focusedLabel);
        (again || heading).focus();
      }
    }

    function renderProgressAndDetails() {
      replace(progressSlot, progressBar(job.progress, 'Progress'),
        h('ul', {class: 'counts-list'}, ['completed', 'failed', 'running', 'pending'].map((key) =>
          h('li', {}, h('span', {class: `dot dot-${key}`}), `${key[0].toUpperCase()}${key.slice(1)}: ${job.progress[key]}`)),
          h('li', {}, `Total: ${job.progress.total}`)),
        job.batches ? [h('h3', {}, `Batches (${job.batches.length})`), batchesTable(job.batches)] : null);
      const who = job.createdBy ? `${job.createdBy.displayName} (${job.createdBy.type})` : '—';
      const entries = [
        ['Job ID', job.id],
        ['Description', job.description || '—'],
        ['Device group', groupName(groups, job.group)],
        ['Devices', job.devices ? `${job.devices.length} chosen: ${job.devices.join(', ')}` : 'All devices in the group'],
        ['Job type', job.data.length ? typeName(job.data[0].type) : '—'],
        ...rolloutEntries(job),
        operationsEntry(job),
        ['Created by', who],
        ['Created', when(job.created)],
        ['Start', when(job.start)],
        ['End', when(job.end)],
        ['Duration', duration(job)],
        job.rerunOf ? ['Rerun of', h('a', {href: `#/jobs/${encodeURIComponent(job.rerunOf)}`}, job.rerunOf)] : null,
        job.lastStoppedBy ? ['Last stopped by', job.lastStoppedBy.displayName] : null,
        job.lastResumedBy ? ['Last resumed by', job.lastResumedBy.displayName] : null,
      ].filter(Boolean);
      replace(details, entries.map(([term, value]) => [h('dt', {}, term), h('dd', {}, value)]));
    }

    async function refresh() {
      job = await call('GET', path);
      if (!current(view)) return;
      render();
      await devices.reload();
    }

    // Live while anything may change: pending, running, and stopped (devices in flight finish, and
    // someone else may run it again); ended jobs and drafts are read once.
    async function poll() {
      if (!current(view)) return;
      if (ACTIVE.includes(job.status) || job.status === 'stopped') {
        try { await refresh(); } catch (error) { /* shown on the next action; keep polling */ }
      }
      if (current(view)) later(poll, POLL_MS);
    }

    render();
    devices.reload();
    later(poll, POLL_MS);
  }

  function jobDevices(view, jobPath, attempts) {
    let pages = [`${jobPath}/devices?maxpagesize=${DEVICES_PAGE}`];
    let index = 0;
    let rows = [];
    const slot = h('div');
    const status = h('select', {id: 'device-status', onchange: () => { pages = [first()]; index = 0; reload(); }},
      h('option', {value: ''}, 'All'), Object.entries(DEVICE_STATUS).map(([value, label]) => h('option', {value}, label)));
    const search = h('input', {id: 'device-search', type: 'search', autocomplete: 'off', oninput: () => render()});
    const summary = h('p', {class: 'summary', role: 'status'});
    const body = h('tbody');
    const previous = h('button', {type: 'button', onclick: () => { index -= 1; reload(); }}, 'Previous devices');
    const next = h('button', {type: 'button', onclick: () => { index += 1; reload(); }}, 'Next devices');
    const element = h('section', {'aria-labelledby': 'job-devices-heading'},
      h('h2', {id: 'job-devices-heading'}, 'Devices'),
      h('div', {class: 'toolbar'},
        h('div', {class: 'field inline'}, h('label', {for: 'device-status'}, 'Device status'), status),
        h('div', {class: 'field inline'}, h('label', {for: 'device-search'}, 'Filter by device ID'), search)),
      slot, summary,
      h('div', {class: 'scroll'}, h('table', {class: 'job-devices'},
        h('caption', {class: 'visually-hidden'}, 'Devices of the job'),
        h('thead', {}, h('tr', {}, ['Device ID', 'Status', 'Error code', 'Error message', attempts ? 'Attempts' : null, 'Time']
          .filter(Boolean).map((name) => h('th', {scope: 'col'}, name)))), body)),
      h('div', {class: 'pager'}, previous, next));

    function first() {
      return `${jobPath}/devices?maxpagesize=${DEVICES_PAGE}${status.value ? `&status=${status.value}` : ''}`;
    }
    function render() {
      const words = search.value.trim().toLowerCase();
      const visible = rows.filter((row) => !words || row.id.toLowerCase().includes(words));
      replace(body, visible.length ? visible.map((row) => h('tr', {'data-device': row.id},
        h('th', {scope: 'row'}, row.id, row.deleted ? h('span', {class: 'note'}, ' (deleted)') : null),
        h('td', {}, h('span', {class: `status status-${row.status}`}, DEVICE_STATUS[row.status] || row.status)),
        h('td', {}, row.errorCode || ''),
        h('td', {}, row.errorMessage || ''),
        attempts ? h('td', {}, row.attempts === undefined || row.attempts === null ? '—' : String(row.attempts)) : null,
        h('td', {}, when(row.time)))) : h('tr', {}, h('td', {colspan: attempts ? 6 : 5, class: 'empty'}, 'No devices to show.')));
      summary.textContent = `${visible.length} device${visible.length === 1 ? '' : 's'} shown on this page.`;
      previous.disabled = index === 0;
      next.disabled = index + 1 >= pages.length;
      previous.hidden = next.hidden = pages.length <= 1;
    }
    async function reload() {
      try {
        const answer = await call('GET', pages[index]);
        if (!current(view)) return;
        rows = answer.value;
        pages = pages.slice(0, index + 1);
        if (answer.nextLink) pages.push(answer.nextLink);
        replace(slot);
        render();
      } catch (error) {
        if (current(view)) showError(slot, error);
      }
    }
    return {element, reload};
  }

  async function download(path, filename) {
    const response = await call('GET', path, undefined, {raw: true});
    const disposition = /filename="?([^";]+)"?/.exec(response.headers.get('Content-Disposition') || '');
    const url = URL.createObjectURL(await response.blob());
    const link = h('a', {href: url, download: disposition ? disposition[1] : filename, hidden: true});
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60000);
  }

  // Signing in with Microsoft Entra ID: the authorization code flow with PKCE, as a single-page
  // application does it (no library): the browser goes to the tenant's /authorize, comes back here
  // with a code, and this page redeems it at /token (cross-origin) for an access token of the API.
  const SIGN_IN_KEY = 'bulkJobsConsole.entraSignIn';
  let configuration = null;
  async function consoleConfig() {
    if (!configuration) {
      try {
        const response = await fetch(new URL('config.json', document.baseURI), {cache: 'no-store'});
        configuration = response.ok ? await response.json() : {entra: null};
      } catch (ignored) {
        configuration = {entra: null};
      }
    }
    return configuration;
  }
  const base64url = (bytes) => btoa(String.fromCharCode(...bytes)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  const redirectUri = () => new URL('./', document.baseURI).href;
  const scopes = (entra) => `${entra.scope} openid profile`;

  async function signInWithEntra(entra) {
    const verifier = base64url(crypto.getRandomValues(new Uint8Array(48)));
    const challenge = base64url(new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier))));
    const nonce = base64url(crypto.getRandomValues(new Uint8Array(16)));
    const request = {state: base64url(crypto.getRandomValues(new Uint8Array(24))), verifier, redirectUri: redirectUri(),
                     hash: /^#\/./.test(location.hash) ? location.hash : '#/jobs'};
    sessionStorage.setItem(SIGN_IN_KEY, JSON.stringify(request));
    const url = new URL(`${entra.authority}/authorize`);
    url.search = new URLSearchParams({client_id: entra.clientId, response_type: 'code', redirect_uri: request.redirectUri,
      response_mode: 'query', scope: scopes(entra), state: request.state, nonce, code_challenge: challenge,
      code_challenge_method: 'S256'}).toString();
    location.assign(url.href);
  }

  // Back from /authorize: null when this load is not its answer; else true (signed in) or why not.
  async function completeEntraSignIn() {
    const answer = new URLSearchParams(location.search);
    if (!answer.has('code') && !answer.has('error')) return null;
    let request = null;
    try { request = JSON.parse(sessionStorage.getItem(SIGN_IN_KEY) || 'null'); } catch (ignored) { /* none */ }
    sessionStorage.removeItem(SIGN_IN_KEY);
    history.replaceState(null, '', redirectUri() + ((request && request.hash) || '#/jobs'));  // the code leaves the address bar
    if (answer.has('error')) {
      return `Microsoft did not sign you in: ${answer.get('error_description') || answer.get('error')}`;
    }
    if (!request || request.state !== answer.get('state')) {
      return 'This sign-in was not started from this tab (or it was started twice); sign in again.';
    }
    const entra = (await consoleConfig()).entra;
    if (!entra) return 'Sign-in with Microsoft is not set up for this app; sign in with an API token.';
    let response;
    let body = {};
    try {
      response = await fetch(`${entra.authority}/token`, {method: 'POST', cache: 'no-store',
        body: new URLSearchParams({client_id: entra.clientId, scope: scopes(entra), code: answer.get('code'),
          redirect_uri: request.redirectUri, grant_type: 'authorization_code', code_verifier: request.verifier})});
      body = await response.json();
    } catch (failure) {
      return `Microsoft's sign-in service could not be reached (${failure.message}); try again.`;
    }
    if (!response.ok || !body.access_token) {
      return `Microsoft did not sign you in: ${body.error_description || body.error || `HTTP ${response.status}`}`;
    }
    const token = `Bearer ${body.access_token}`;
    try {
      await call('GET', 'jobs?maxpagesize=1', undefined, {token});
    } catch (error) {
      return `${headline(error)} ${error.status === 403 ? 'You are signed in with Microsoft, but no role of this app is assigned to you; an Administrator assigns one.' : error.message}`;
    }
    adopt(token);
    return true;
  }

  function adopt(token) {
    state.token = token;
    state.mayRun = state.mayEditGroups = null;
    sessionStorage.setItem(TOKEN_KEY, token);
    sessionStorage.removeItem(ACCESS_KEY);
  }

  function bearerName(token) {
    try {
      const claims = JSON.parse(atob(token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/')));
      return claims.preferred_username || claims.upn || claims.email || claims.name || '';
    } catch (ignored) {
      return '';
    }
  }

  async function start() {
    const outcome = await completeEntraSignIn();
    if (typeof outcome === 'string') { showWho(); return signInPage(outcome); }
    return route();
  }

  document.getElementById('sign-out').addEventListener('click', () => signOut());
  document.getElementById('skip').addEventListener('click', (event) => { event.preventDefault(); main.focus(); });
  window.addEventListener('hashchange', route);
  start();
})();
"""
