// The admin page: plain JS over the admin API. The function key comes from ?code= and is sent as a header.
(() => {
  const key = new URLSearchParams(location.search).get('code') || '';
  const base = location.pathname.replace(/\/admin\/ui\/?$/, '/admin/');
  const $ = (id) => document.getElementById(id);
  const esc = (v) =>
    String(v ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);

  async function api(path, options = {}) {
    const res = await fetch(base + path, {
      method: options.method || 'GET',
      headers: { 'x-functions-key': key, ...(options.body ? { 'content-type': 'application/json' } : {}) },
      body: options.body ? JSON.stringify(options.body) : undefined,
    });
    const body = await res.json().catch(() => ({}));
    if (!res.ok) throw new Error(body.error || `${res.status}`);
    return body;
  }
  function say(text, bad) {
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
    for (const sel of [$('errors-mapping'), $('coupling-mapping')]) {
      const keep = sel.value;
      const first = sel.id === 'errors-mapping' ? '<option value="">all</option>' : '';
      sel.innerHTML = first + mappingNames.map((n) => `<option>${esc(n)}</option>`).join('');
      sel.value = keep || (sel.id === 'coupling-mapping' ? (mappingNames.includes('CUSTOMER') ? 'CUSTOMER' : mappingNames[0] || '') : '');
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
      `<div class="bar" role="progressbar" aria-valuenow="${pct}" aria-valuemin="0" aria-valuemax="100"><span style="width:${pct}%"></span></div>` +
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

  async function searchCouplings(ev) {
    if (ev) ev.preventDefault();
    const mapping = $('coupling-mapping').value;
    const id = $('coupling-id').value.trim();
    try {
      const r = await api(`couplings?mapping=${encodeURIComponent(mapping)}&pageSize=50${id ? `&id=${encodeURIComponent(id)}` : ''}`);
      $('couplings-body').innerHTML = table(
        ['BC record', 'Dataverse row', 'Last result', 'Last synced', 'Skipped'],
        r.items.map(
          (c) => `<tr><td><code>${esc(c.bcId)}</code></td><td><code>${esc(c.dataverseId)}</code></td><td>${esc(c.lastResult || '')}</td>
          <td>${esc(c.lastSyncedAt || '')}</td><td>${c.skipped ? 'yes' : ''}</td></tr>`,
        ),
      );
    } catch (e) {
      $('couplings-body').innerHTML = `<p class="bad">${esc(e.message)}</p>`;
    }
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

  async function refresh() {
    await Promise.allSettled([loadMappings(), loadFullSync(), loadErrors(), loadDeadLetters()]);
  }
  loadConnection();
  refresh().then(() => say('Ready.'));
  setInterval(() => refresh().catch(() => undefined), 15000);
})();
