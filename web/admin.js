// The admin page: plain JS over the admin API. Locally the user pastes a role key (kept in sessionStorage and sent
// in the x-sync-key header, never in a URL); in Azure the Entra sign-in cookie goes with each same-origin request.
(() => {
  const KEY_STORE = 'bc-dataverse-sync.key';
  let key = sessionStorage.getItem(KEY_STORE) || '';
  const base = location.pathname.replace(/\/admin\/ui\/?$/, '/admin/');
  const $ = (id) => document.getElementById(id);
  const esc = (v) =>
    String(v ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);

  async function api(path, options = {}) {
    const res = await fetch(base + path, {
      method: options.method || 'GET',
      headers: {
        'x-sync-client': 'page',
        ...(key ? { 'x-sync-key': key } : {}),
        ...(options.body ? { 'content-type': 'application/json' } : {}),
      },
      body: options.body ? JSON.stringify(options.body) : undefined,
    });
    const body = await res.json().catch(() => ({}));
    if (res.status === 401) showKeyForm(true);
    if (!res.ok) {
      const err = new Error(body.error || `${res.status}`);
      err.status = res.status;
      err.body = body;
      throw err;
    }
    return body;
  }
  function showKeyForm(show) {
    $('key-form').hidden = !show;
    $('key-forget').hidden = show || !key;
  }
  // Who is signed in and what they may do; a Reader's change buttons stay, and the API refuses them (403).
  let me = { canChange: false, roles: [] };
  async function loadWhoami() {
    me = await api('whoami');
    $('whoami').textContent = `${me.name} — ${me.roles.join(', ') || 'no Sync role'}`;
    document.body.dataset.canChange = String(me.canChange);
    showKeyForm(false);
  }
  // Counts messages, so a slow first load does not cover up what an action the admin took meanwhile said.
  let said = 0;
  function say(text, bad) {
    said++;
    const s = $('status');
    s.textContent = text;
    s.className = bad ? 'bad' : '';
  }
  function table(headers, rows) {
    if (rows.length === 0) return '<p class="muted">None.</p>';
    return `<table><thead><tr>${headers.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${rows.join('')}</tbody></table>`;
  }

  async function loadConnection() {
    try {
      const r = await api('connection');
      $('connection-body').innerHTML =
        `<p class="${r.ok ? 'ok' : 'bad'}">${r.ok ? 'Connected' : 'Problems found'}${r.bc.companyName ? ` — company ${esc(r.bc.companyName)}` : ''}</p>` +
        table(
          ['Check', 'Result'],
          r.checks.map((c) => `<tr><td>${esc(c.id)}</td><td class="${c.ok ? 'ok' : 'bad'}">${c.ok ? '✓' : '✗'} ${esc(c.detail)}</td></tr>`),
        );
    } catch (e) {
      $('connection-body').innerHTML = `<p class="bad">${esc(e.message)}</p>`;
    }
  }

  let mappingNames = [];
  async function loadMappings() {
    const stats = await api('stats');
    mappingNames = stats.map((s) => s.mapping);
    for (const sel of [$('errors-mapping'), $('coupling-mapping'), $('editor-mapping')]) {
      const keep = sel.value;
      const first = sel.id === 'errors-mapping' ? '<option value="">all</option>' : '';
      sel.innerHTML = first + mappingNames.map((n) => `<option>${esc(n)}</option>`).join('');
      sel.value = keep || (sel.id !== 'errors-mapping' ? (mappingNames.includes('CUSTOMER') ? 'CUSTOMER' : mappingNames[0] || '') : '');
    }
    $('mappings-body').innerHTML = table(
      ['Mapping', 'Direction', 'Inserted', 'Modified', 'Coupled', 'Unchanged', 'Failed', 'Lag', ''],
      stats.map(
        (s) => `<tr><td>${esc(s.mapping)}${s.enabled ? '' : ' <span class="muted">(disabled)</span>'}</td><td>${esc(s.direction)}</td>
        <td class="num">${s.counters.inserted ?? 0}</td><td class="num">${s.counters.modified ?? 0}</td><td class="num">${s.counters.coupled ?? 0}</td>
        <td class="num">${s.counters.unchanged ?? 0}</td><td class="num">${s.counters.failed ?? 0}</td>
        <td class="num">${s.lagSeconds < 0 ? '?' : `${s.lagSeconds} s`}${s.waiting > 0 ? ` (${s.waiting} waiting)` : ''}</td>
        <td><button type="button" data-full-sync="${esc(s.mapping)}">Full sync</button></td></tr>`,
      ),
    );
  }

  let polling;
  async function loadFullSync() {
    let r;
    try {
      r = await api('full-sync');
    } catch {
      return;
    }
    const pct = r.percent ?? 0;
    $('full-sync-body').innerHTML =
      `<p>Run <code>${esc(r.runId)}</code>: <strong data-run-status="${esc(r.status)}">${esc(r.status)}</strong> — ${r.done}${r.total !== undefined ? ` of ${r.total}` : ''} records` +
      `${r.recordsPerSecond ? `, ${r.recordsPerSecond}/s` : ''}${r.etaSeconds !== undefined ? `, ETA ${r.etaSeconds} s` : ''}</p>` +
      `<progress max="100" value="${Number(pct) || 0}">${Number(pct) || 0}%</progress>` +
      `<p class="muted">${
        Object.entries(r.counters)
          .filter(([, v]) => v > 0)
          .map(([k, v]) => `${esc(k)} ${v}`)
          .join(' · ') || 'no results yet'
      }</p>` +
      table(
        ['Mapping', 'Status', 'Done', 'Total', 'Rate', 'Note'],
        r.mappings.map(
          (m) => `<tr><td>${esc(m.name)}</td><td>${esc(m.status)}</td><td class="num">${m.done}</td><td class="num">${m.total ?? ''}</td>
          <td class="num">${m.recordsPerSecond || ''}</td><td>${esc(m.message || '')}</td></tr>`,
        ),
      );
    clearTimeout(polling);
    if (r.status === 'running') polling = setTimeout(loadFullSync, 2000);
  }

  // --- mapping editor: edit, check (validated by the API against both systems), save, undo, reset ---------------
  const DIRECTIONS = ['Bidirectional', 'ToIntegrationTable', 'FromIntegrationTable'];
  let editing; // the mapping as loaded; rows keep each field's other settings (transformations…)
  const fieldLabel = (f) => `${f.bcField ?? '(constant)'} -> ${f.dataverseColumn ?? '(constant)'}`;
  const options = (values, selected) => values.map((v) => `<option${v === selected ? ' selected' : ''}>${esc(v)}</option>`).join('');
  function constantText(f) {
    if (!f.constant) return '';
    return typeof f.constant.value === 'string' ? f.constant.value : JSON.stringify(f.constant.value);
  }
  function fieldRow(f, index) {
    return `<tr data-field-index="${index}">
      <td><input data-f="bcField" value="${esc(f.bcField ?? '')}" size="18" placeholder="(constant)"></td>
      <td><input data-f="dataverseColumn" value="${esc(f.dataverseColumn ?? '')}" size="18" placeholder="(constant)"></td>
      <td><select data-f="direction">${options(DIRECTIONS, f.direction)}</select></td>
      <td><select data-f="status">${options(['Enabled', 'Disabled'], f.status)}</select></td>
      <td><input data-f="constant" value="${esc(constantText(f))}" size="12"></td>
      <td><button type="button" data-remove-field="${index}">Remove</button></td></tr>
      <tr class="field-error-row"><td colspan="6" class="field-error" data-error-row="${index}"></td></tr>`;
  }
  function renderEditor(m) {
    editing = m;
    const form = $('editor');
    form.hidden = false;
    for (const name of ['enabled', 'synchOnlyCoupledRecords']) form.elements[name].checked = Boolean(m[name]);
    for (const name of ['direction', 'updateConflictResolution', 'deletionConflictResolution', 'tableFilter', 'integrationTableFilter'])
      form.elements[name].value = m[name] ?? '';
    $('editor-fields').tBodies[0].innerHTML = m.fields.map(fieldRow).join('');
    showProblems([]);
    $('editor-diff').innerHTML = '';
  }
  function parseConstant(text) {
    if (text === '') return undefined;
    if (/^-?\d+(\.\d+)?$/.test(text)) return { value: Number(text) };
    if (text === 'true' || text === 'false' || text === 'null') return { value: JSON.parse(text) };
    return { value: text };
  }
  // The mapping the form describes: loaded fields keep every setting the form does not show. Row controls carry
  // data-f, not name, so they never shadow the mapping's own form elements (direction…).
  function formMapping() {
    const form = $('editor');
    const m = { ...editing };
    for (const name of ['enabled', 'synchOnlyCoupledRecords']) m[name] = form.elements[name].checked;
    for (const name of ['direction', 'updateConflictResolution', 'deletionConflictResolution']) m[name] = form.elements[name].value;
    m.tableFilter = form.elements.tableFilter.value.trim();
    m.integrationTableFilter = form.elements.integrationTableFilter.value.trim();
    m.fields = [...$('editor-fields').tBodies[0].querySelectorAll('tr[data-field-index]')].map((tr) => {
      const base = editing.fields[Number(tr.dataset.fieldIndex)] || {
        validateOnWrite: true,
        validateIntegrationTableField: false,
        clearValueOnFailedSync: false,
        notNull: false,
        bcExtension: false,
      };
      const get = (n) => tr.querySelector(`[data-f=${n}]`).value.trim();
      const f = { ...base, bcField: get('bcField') || null, dataverseColumn: get('dataverseColumn') || null };
      if (f.bcField !== base.bcField) f.alField = f.bcField;
      if (f.alField === undefined) f.alField = f.bcField;
      f.direction = get('direction');
      f.status = get('status');
      const constant = parseConstant(get('constant'));
      if (constant) f.constant = { ...(base.constant || {}), ...constant };
      else delete f.constant;
      return f;
    });
    return m;
  }
  // Each problem is shown where it belongs: at its filter, at its field-mapping row, or in the list.
  function showProblems(problems) {
    for (const el of document.querySelectorAll('#editor [data-error-for], #editor [data-error-row]')) el.textContent = '';
    for (const el of document.querySelectorAll('#editor .invalid')) el.classList.remove('invalid');
    const rest = [];
    const rows = [...$('editor-fields').tBodies[0].querySelectorAll('tr[data-field-index]')];
    const current = formMapping();
    for (const p of problems) {
      const filterEl = p.field && document.querySelector(`#editor [data-error-for="${CSS.escape(p.field)}"]`);
      const rowIndex = p.field ? current.fields.findIndex((f) => fieldLabel(f) === p.field) : -1;
      if (filterEl) {
        filterEl.textContent = p.message;
        $('editor').elements[p.field].classList.add('invalid');
      } else if (rowIndex >= 0) {
        const tr = rows[rowIndex];
        tr.classList.add('invalid');
        tr.nextElementSibling.querySelector('[data-error-row]').textContent = p.message;
      } else rest.push(p);
    }
    $('editor-problems').innerHTML = rest.map((p) => `<li>${esc(p.message)}</li>`).join('');
  }
  const show = (v) => (v === undefined ? '' : esc(typeof v === 'string' ? v : JSON.stringify(v)));
  function diffTable(diff) {
    return table(
      ['Setting', 'Before', 'After'],
      diff.map(
        (d) => `<tr><td><code>${esc(d.path)}</code></td><td><del>${show(d.before)}</del></td><td><ins>${show(d.after)}</ins></td></tr>`,
      ),
    );
  }
  async function loadChanges(name) {
    const changes = await api(`mappings/${encodeURIComponent(name)}/changes?limit=10`);
    $('editor-changes').innerHTML = table(
      ['When', 'Who', 'What', 'Changed'],
      changes.map(
        (c) =>
          `<tr><td>${esc(c.at)}</td><td>${esc(c.by)}</td><td>${esc(c.kind)}</td><td>${c.diff.map((d) => `<code>${esc(d.path)}</code>`).join(', ')}</td></tr>`,
      ),
    );
  }
  async function openMapping(ev) {
    if (ev) ev.preventDefault();
    const name = $('editor-mapping').value;
    try {
      renderEditor(await api(`mappings/${encodeURIComponent(name)}`));
      await loadChanges(name);
    } catch (e) {
      say(e.message, true);
    }
  }
  async function checkMapping() {
    const r = await api(`mappings/${encodeURIComponent(editing.name)}/preview`, { method: 'POST', body: formMapping() });
    showProblems(r.problems);
    $('editor-diff').innerHTML = r.diff.length ? `<h3>Changes to save</h3>${diffTable(r.diff)}` : '<p class="muted">No changes.</p>';
    say(r.ok ? 'Valid.' : `${r.problems.length} problem(s).`, !r.ok);
    return r;
  }
  async function saveMapping(ev) {
    ev.preventDefault();
    try {
      const r = await checkMapping();
      if (!r.ok || r.diff.length === 0) return;
      renderEditor(await api(`mappings/${encodeURIComponent(editing.name)}`, { method: 'PUT', body: formMapping() }));
      $('editor-diff').innerHTML = `<h3>Saved</h3>${diffTable(r.diff)}`;
      say('Saved.');
      await loadChanges(editing.name);
    } catch (e) {
      if (e.body?.problems) showProblems(e.body.problems);
      say(e.message, true);
    }
  }
  async function editorAction(path, okText) {
    try {
      const r = await api(path, { method: 'POST', body: {} });
      const name = editing.name;
      renderEditor(await api(`mappings/${encodeURIComponent(name)}`));
      if (r.undone) $('editor-diff').innerHTML = `<h3>Undone</h3>${diffTable(r.undone.diff)}`;
      say(okText);
      await loadChanges(name);
    } catch (e) {
      say(e.message, true);
    }
  }
  $('editor-pick').addEventListener('submit', openMapping);
  $('editor').addEventListener('submit', saveMapping);
  $('editor').addEventListener('click', (ev) => {
    const t = ev.target.closest('button');
    if (!t) return;
    if (t.dataset.removeField !== undefined) {
      const tr = t.closest('tr');
      tr.nextElementSibling.remove();
      tr.remove();
    } else if (t.id === 'editor-add-field') {
      const index = editing.fields.length + $('editor-fields').tBodies[0].querySelectorAll('tr[data-field-index]').length;
      $('editor-fields').tBodies[0].insertAdjacentHTML(
        'beforeend',
        fieldRow({ bcField: '', dataverseColumn: '', direction: 'Bidirectional', status: 'Enabled' }, index),
      );
    } else if (t.id === 'editor-check') checkMapping().catch((e) => say(e.message, true));
    else if (t.id === 'editor-undo') editorAction(`mappings/${encodeURIComponent(editing.name)}/undo`, 'Undone.');
    else if (t.id === 'editor-reset') editorAction(`mappings/${encodeURIComponent(editing.name)}/reset`, 'Reset to the default.');
    else if (t.id === 'editor-reset-all') editorAction('mappings/reset-all', 'Every default mapping reset.');
  });

  // A new mapping (BC's "New" on Integration Table Mappings): the API drafts the full definition from what the
  // form holds, the preview checks it against both systems, and only a clean one is saved and opened in the editor.
  function newFieldRow() {
    return `<tr data-new-field>
      <td><input data-f="bcField" size="18"></td>
      <td><input data-f="dataverseColumn" size="18"></td>
      <td><select data-f="direction">${options(DIRECTIONS, $('new-mapping').elements.direction.value)}</select></td>
      <td><button type="button" data-remove-new-field>Remove</button></td></tr>
      <tr class="field-error-row"><td colspan="4" class="field-error" data-new-error></td></tr>`;
  }
  function newDraft() {
    const el = $('new-mapping').elements;
    const v = (n) => el[n].value.trim();
    return {
      name: v('name'),
      bc: { kind: v('bcKind'), entitySet: v('bcEntitySet'), table: v('bcTable'), tableId: v('bcTableId') },
      dataverse: { entityLogicalName: v('dataverseTable'), entitySet: v('dataverseEntitySet') },
      direction: v('direction'),
      fields: [...$('new-fields').tBodies[0].querySelectorAll('tr[data-new-field]')].map((tr) => {
        const get = (n) => tr.querySelector(`[data-f=${n}]`).value.trim();
        return { bcField: get('bcField'), dataverseColumn: get('dataverseColumn'), direction: get('direction') };
      }),
    };
  }
  function showNewProblems(problems) {
    for (const el of document.querySelectorAll('#new-mapping [data-new-error]')) el.textContent = '';
    for (const el of document.querySelectorAll('#new-mapping .invalid')) el.classList.remove('invalid');
    const rows = [...$('new-fields').tBodies[0].querySelectorAll('tr[data-new-field]')];
    const fields = newDraft().fields;
    const rest = [];
    for (const p of problems) {
      const i = p.field ? fields.findIndex((f) => fieldLabel(f) === p.field) : -1;
      if (i >= 0) {
        rows[i].classList.add('invalid');
        rows[i].nextElementSibling.querySelector('[data-new-error]').textContent = p.message;
      } else rest.push(p);
    }
    $('new-problems').innerHTML = rest.map((p) => `<li>${esc(p.message)}</li>`).join('');
  }
  async function createMapping(ev) {
    ev.preventDefault();
    const draft = newDraft();
    try {
      const m = await api('mappings/draft', { method: 'POST', body: draft });
      const path = `mappings/${encodeURIComponent(m.name)}`;
      const r = await api(`${path}/preview`, { method: 'POST', body: m });
      showNewProblems(r.problems);
      if (!r.ok) return say(`${r.problems.length} problem(s); nothing saved.`, true);
      await api(path, { method: 'PUT', body: m });
      say(`Created ${m.name}.`);
      await loadMappings();
      $('editor-mapping').value = m.name;
      await openMapping();
    } catch (e) {
      showNewProblems(e.body?.problems || [{ field: e.body?.field, message: e.message }]);
      say(e.message, true);
    }
  }
  $('new-mapping').addEventListener('submit', createMapping);
  $('new-mapping').addEventListener('click', (ev) => {
    const t = ev.target.closest('button');
    if (!t) return;
    if (t.dataset.removeNewField !== undefined) {
      const tr = t.closest('tr');
      tr.nextElementSibling.remove();
      tr.remove();
    } else if (t.id === 'new-add-field') $('new-fields').tBodies[0].insertAdjacentHTML('beforeend', newFieldRow());
  });
  $('new-fields').tBodies[0].innerHTML = newFieldRow();

  // BC's Integration Synch. Jobs: one row per mapping and hour of synchronizations.
  async function loadRuns() {
    const [runs, retention] = await Promise.all([api('runs?limit=50'), api('retention')]);
    $('retention-body').textContent =
      `Kept: ${retention.keeps}.` +
      (retention.lastRun
        ? ` Last purge ${retention.lastRun.finishedAt}: ${retention.lastRun.history.deleted} history, ${retention.lastRun.syncErrors.deleted} error, ${retention.lastRun.runLog.deleted} log rows deleted.`
        : '');
    $('runs-body').innerHTML = table(
      ['Mapping', 'Started', 'Finished', 'Inserted', 'Modified', 'Coupled', 'Unchanged', 'Failed', 'Skipped'],
      runs.map(
        (r) => `<tr><td>${esc(r.mapping)}</td><td>${esc(r.startedAt)}</td><td>${esc(r.finishedAt)}</td>
        <td class="num">${r.counters.inserted}</td><td class="num">${r.counters.modified}</td><td class="num">${r.counters.coupled}</td>
        <td class="num">${r.counters.unchanged}</td><td class="num">${r.counters.failed}</td><td class="num">${r.counters.skipped}</td></tr>`,
      ),
    );
  }

  async function loadErrors() {
    const mapping = $('errors-mapping').value;
    const r = await api(`errors?status=open${mapping ? `&mapping=${encodeURIComponent(mapping)}` : ''}`);
    $('errors-body').innerHTML = table(
      ['Mapping', 'Code', 'Message', 'Record', 'Attempts', 'Last seen', ''],
      r.items.map(
        (e) => `<tr data-error-id="${esc(e.id)}"><td>${esc(e.mapping)}</td><td><code>${esc(e.code)}</code></td><td>${esc(e.message)}</td>
        <td><code>${esc(e.bcId || e.dataverseId || '')}</code></td><td class="num">${e.attempts}</td><td>${esc(e.lastSeen)}</td>
        <td>${e.replayable ? `<button type="button" data-retry="${esc(e.id)}">Retry</button> ` : ''}<button type="button" data-dismiss="${esc(e.id)}">Dismiss</button></td></tr>`,
      ),
    );
  }

  async function loadDeadLetters() {
    const r = await api('dead-letters?max=100');
    $('dead-letters-body').innerHTML = table(
      ['Queue', 'Seq', 'Reason', 'Mapping', 'What', 'Replays', 'Enqueued', ''],
      r.map(
        (d) => `<tr><td>${esc(d.queue)}</td><td>${esc(d.sequenceNumber)}</td><td>${esc(d.reason)}</td><td>${esc(d.mapping || '')}</td>
        <td>${esc(d.subject || d.kind || '')}</td>
        <td class="num">${d.replayCount}</td><td>${esc(d.enqueuedAt || '')}</td>
        <td><button type="button" data-replay="${esc(d.queue)}|${esc(d.sequenceNumber)}">Replay</button>
        <button type="button" data-purge="${esc(d.queue)}|${esc(d.sequenceNumber)}">Purge</button></td></tr>`,
      ),
    );
  }

  const GUID = /^\{?[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}\}?$/i;
  const couplingRow = (c) =>
    `<tr><td><code>${esc(c.bcId)}</code></td><td><code>${esc(c.dataverseId)}</code></td><td>${esc(c.lastResult || '')}</td>
    <td>${esc(c.lastSyncedAt || '')}</td><td>${c.skipped ? 'yes' : ''}</td></tr>`;
  // A GUID or nothing: the coupling itself. Any other text: records found by number or name on either side.
  async function searchCouplings(ev) {
    if (ev) ev.preventDefault();
    const mapping = $('coupling-mapping').value;
    const id = $('coupling-id').value.trim();
    try {
      if (id && !GUID.test(id)) {
        const r = await api(`couplings/find?mapping=${encodeURIComponent(mapping)}&q=${encodeURIComponent(id)}`);
        $('couplings-body').innerHTML = table(
          ['Side', 'Record', 'Matched', 'Coupled to', 'Last result'],
          r.items.map(
            (
              f,
            ) => `<tr><td>${f.side === 'bc' ? 'Business Central' : 'Dataverse'}</td><td><code>${esc(f.id)}</code></td><td>${esc(f.field)}</td>
            <td>${f.coupling ? `<code>${esc(f.side === 'bc' ? f.coupling.dataverseId : f.coupling.bcId)}</code>` : '<span class="muted">not coupled</span>'}</td>
            <td>${esc(f.coupling?.lastResult || '')}</td></tr>`,
          ),
        );
        return;
      }
      const r = await api(`couplings?mapping=${encodeURIComponent(mapping)}&pageSize=50${id ? `&id=${encodeURIComponent(id)}` : ''}`);
      $('couplings-body').innerHTML = table(
        ['BC record', 'Dataverse row', 'Last result', 'Last synced', 'Skipped'],
        r.items.map(couplingRow),
      );
    } catch (e) {
      $('couplings-body').innerHTML = `<p class="bad">${esc(e.message)}</p>`;
    }
  }

  // Match-based coupling and bulk uncoupling run in the background; the table follows their progress.
  let jobPolling;
  async function loadJobs() {
    const jobs = await api('couplings/jobs');
    $('jobs-body').innerHTML = table(
      ['Job', 'Mapping', 'Status', 'Progress', 'Counters', 'Started', ''],
      jobs.slice(0, 10).map((j) => {
        const pct = j.total ? Math.min(100, Math.round((j.done / Math.max(j.total, 1)) * 100)) : undefined;
        const counters = Object.entries(j.counters)
          .map(([k, v]) => `${esc(k)} ${v}`)
          .join(' · ');
        return `<tr data-job-id="${esc(j.id)}"><td>${esc(j.kind)}</td><td>${esc(j.mapping)}</td><td>${esc(j.status)}${j.error ? ` — ${esc(j.error)}` : ''}</td>
          <td>${pct === undefined ? `${j.done} records` : `<progress max="100" value="${pct}">${pct}%</progress> ${j.done}/${j.total}`}</td>
          <td>${counters}</td><td>${esc(j.startedAt)}</td>
          <td>${j.status === 'running' ? `<button type="button" data-cancel-job="${esc(j.id)}">Cancel</button>` : ''}</td></tr>`;
      }),
    );
    clearTimeout(jobPolling);
    if (jobs.some((j) => j.status === 'running')) jobPolling = setTimeout(() => loadJobs().catch(() => undefined), 3000);
  }

  async function act(promise, okText, reload) {
    try {
      await promise;
      say(okText);
      await reload();
    } catch (e) {
      say(e.message, true);
    }
  }

  document.addEventListener('click', (ev) => {
    const t = ev.target.closest('button');
    if (!t) return;
    if (t.dataset.retry)
      act(api(`errors/${encodeURIComponent(t.dataset.retry)}/retry`, { method: 'POST' }), 'Retry queued.', () => pollErrors(6));
    else if (t.dataset.dismiss)
      act(api(`errors/${encodeURIComponent(t.dataset.dismiss)}/dismiss`, { method: 'POST' }), 'Dismissed.', loadErrors);
    else if (t.dataset.replay || t.dataset.purge) {
      const [queue, seq] = (t.dataset.replay || t.dataset.purge).split('|');
      const verb = t.dataset.replay ? 'replay' : 'purge';
      act(
        api(`dead-letters/${verb}`, { method: 'POST', body: { queue, sequenceNumbers: [seq] } }),
        verb === 'replay' ? 'Replayed.' : 'Purged.',
        loadDeadLetters,
      );
    } else if (t.dataset.fullSync)
      act(api('full-sync', { method: 'POST', body: { mappings: [t.dataset.fullSync] } }), 'Full sync started.', loadFullSync);
    else if (t.id === 'job-match' || t.id === 'job-uncouple') {
      const body = { kind: t.id === 'job-match' ? 'match-couple' : 'uncouple', mapping: $('coupling-mapping').value };
      act(api('couplings/jobs', { method: 'POST', body }), 'Job started.', loadJobs);
    } else if (t.dataset.cancelJob)
      act(api(`couplings/jobs/${encodeURIComponent(t.dataset.cancelJob)}/cancel`, { method: 'POST' }), 'Job cancelled.', loadJobs);
    else if (t.id === 'full-sync-start') act(api('full-sync', { method: 'POST', body: {} }), 'Full sync started.', loadFullSync);
    else if (t.id === 'full-sync-cancel') act(api('full-sync/cancel', { method: 'POST', body: {} }), 'Cancelled.', loadFullSync);
    else if (t.id === 'errors-retry-all') {
      const mapping = $('errors-mapping').value;
      if (!mapping) say('Choose a mapping first.', true);
      else act(api('errors/retry-all', { method: 'POST', body: { mapping } }), 'Retries queued.', () => pollErrors(6));
    }
  });
  // A retry is asynchronous (the event goes through the queue): refresh a few times.
  async function pollErrors(times) {
    await loadErrors();
    if (times > 0) setTimeout(() => pollErrors(times - 1).catch(() => undefined), 1500);
  }
  $('errors-mapping').addEventListener('change', () => loadErrors().catch((e) => say(e.message, true)));
  $('coupling-search').addEventListener('submit', searchCouplings);
  $('key-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    key = $('key-input').value.trim();
    $('key-input').value = '';
    sessionStorage.setItem(KEY_STORE, key);
    start();
  });
  $('key-forget').addEventListener('click', () => {
    key = '';
    sessionStorage.removeItem(KEY_STORE);
    location.reload();
  });

  async function refresh() {
    await Promise.allSettled([loadMappings(), loadFullSync(), loadRuns(), loadErrors(), loadDeadLetters(), loadJobs()]);
  }
  let timer;
  async function start() {
    try {
      await loadWhoami();
    } catch (e) {
      say(e.status === 401 ? 'Enter a key (local) or sign in.' : e.message, true);
      return;
    }
    loadConnection();
    const before = said;
    await refresh();
    if (said === before) say('Ready.');
    clearInterval(timer);
    timer = setInterval(() => refresh().catch(() => undefined), 15000);
  }
  start();
})();
