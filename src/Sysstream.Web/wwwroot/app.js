// sysstream serve: the live dependency map (SVG, layered left to right), top-style tables and
// live events. Plain JavaScript, no dependencies; data from /api/ (see the README).
'use strict';

(() => {
  const SVG = 'http://www.w3.org/2000/svg';
  const NODE_W = 210, NODE_H = 58, COL_W = 470, ROW_H = 96;
  const $ = (s) => document.querySelector(s);

  const state = {
    info: null,
    groupBy: null,
    graph: null,
    paused: false,
    pendingGraph: null,
    selected: null,          // { type: 'node'|'edge', id }
    filter: '',
    positions: new Map(),    // node id -> {x, y}
    layoutKey: '',
    view: { x: 0, y: 0, k: 1 },
    userMoved: false,
    source: null,
    tab: 'map',
    sorts: { procs: { key: 'tx_rate', desc: true }, conns: { key: 'tx_rate', desc: true } },
    tables: { procs: [], conns: [] },
    events: null,
  };

  // ------------------------------------------------------------------ formatting

  function fmtBytes(n) {
    if (n == null || isNaN(n)) return '–';
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let i = 0;
    let v = Number(n);
    while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
    return (i === 0 ? String(Math.round(v)) : v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2)) + ' ' + units[i];
  }
  const fmtRate = (n) => (n > 0 ? fmtBytes(n) + '/s' : '0 B/s');
  function fmtUs(us) {
    if (us == null) return '–';
    if (us < 1000) return Math.round(us) + ' µs';
    if (us < 1e6) return (us / 1000).toFixed(us < 1e4 ? 2 : 1) + ' ms';
    return (us / 1e6).toFixed(2) + ' s';
  }
  const fmtInt = (n) => Number(n).toLocaleString('en-US');
  function fmtTime(iso) {
    if (!iso) return '–';
    const d = new Date(iso);
    return isNaN(d) ? iso : d.toLocaleTimeString();
  }
  function fmtAge(s) {
    if (s < 60) return s.toFixed(s < 10 ? 1 : 0) + 's';
    if (s < 3600) return Math.floor(s / 60) + 'm' + String(Math.floor(s % 60)).padStart(2, '0') + 's';
    return Math.floor(s / 3600) + 'h' + String(Math.floor((s / 60) % 60)).padStart(2, '0') + 'm';
  }

  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v == null || v === false) continue;
      if (k === 'class') e.className = v;
      else if (k === 'text') e.textContent = v;
      else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v === true ? '' : v);
    }
    for (const c of children) if (c != null) e.append(c);
    return e;
  }
  function svg(tag, attrs) {
    const e = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) if (v != null) e.setAttribute(k, v);
    return e;
  }
  function truncate(s, n) { return s.length > n ? s.slice(0, n - 1) + '…' : s; }

  // ------------------------------------------------------------------ live data

  function connect() {
    if (state.source) state.source.close();
    const url = '/api/graph/stream?group-by=' + encodeURIComponent(state.groupBy);
    const es = new EventSource(url);
    state.source = es;
    setStatus('connecting');
    es.addEventListener('graph', (e) => {
      let g;
      try { g = JSON.parse(e.data); } catch { return; }
      if (state.paused) { state.pendingGraph = g; return; }
      showGraph(g);
      setStatus('live');
    });
    es.onopen = () => setStatus(state.paused ? 'paused' : 'live');
    es.onerror = () => setStatus('down');
  }

  function setStatus(s) {
    const b = $('#status');
    b.className = 'status ' + s;
    b.textContent = s === 'live' ? 'live' : s === 'paused' ? 'paused' : s === 'down' ? 'reconnecting' : 'connecting';
  }

  function showGraph(g) {
    state.graph = g;
    updateSummary(g);
    renderGraph(g);
    refreshDetails();
  }

  function updateSummary(g) {
    const t = g.totals;
    $('#m-nodes').textContent = fmtInt(t.nodes);
    $('#m-edges').textContent = fmtInt(t.edges);
    $('#m-conns').textContent = fmtInt(t.opened);
    $('#m-open').textContent = fmtInt(t.open);
    $('#m-failed').textContent = fmtInt(t.failed);
    $('#m-tx').textContent = fmtRate(t.rate_to_server);
    $('#m-rx').textContent = fmtRate(t.rate_to_client);
    $('#m-time').textContent = 'updated ' + fmtTime(g.time) + (g.dropped_events ? ' · ' + g.dropped_events + ' events dropped' : '');
  }

  // ------------------------------------------------------------------ layout

  // Layers left to right: a node's column is the longest path to it from a node nothing
  // connects to (cycles broken where a DFS finds them); order within a column by the average
  // position of neighbours, a few sweeps each way. Positions stay while the node set does.
  function layout(g) {
    const ids = g.nodes.map((n) => n.id);
    const key = ids.slice().sort().join('\n') + '|' + g.edges.map((e) => e.from + '>' + e.to).sort().join('\n');
    if (key === state.layoutKey && ids.every((id) => state.positions.has(id))) return false;
    state.layoutKey = key;
    const out = new Map(ids.map((id) => [id, []]));
    const inn = new Map(ids.map((id) => [id, []]));
    for (const e of g.edges) {
      if (e.from === e.to || !out.has(e.from) || !out.has(e.to)) continue;
      out.get(e.from).push(e.to);
      inn.get(e.to).push(e.from);
    }
    // DFS for back edges
    const color = new Map();
    const back = new Set();
    const visit = (u) => {
      color.set(u, 1);
      for (const v of out.get(u)) {
        if (color.get(v) === 1) back.add(u + '>' + v);
        else if (!color.get(v)) visit(v);
      }
      color.set(u, 2);
    };
    const starts = ids.filter((id) => inn.get(id).length === 0).concat(ids);
    for (const id of starts) if (!color.get(id)) visit(id);
    const rank = new Map();
    const rankOf = (u, seen) => {
      if (rank.has(u)) return rank.get(u);
      if (seen.has(u)) return 0;
      seen.add(u);
      let r = 0;
      for (const p of inn.get(u)) if (!back.has(p + '>' + u)) r = Math.max(r, rankOf(p, seen) + 1);
      rank.set(u, r);
      return r;
    };
    for (const id of ids) rankOf(id, new Set());
    const connected = new Set(g.edges.flatMap((e) => [e.from, e.to]));
    let maxRank = 0;
    for (const id of ids) if (connected.has(id)) maxRank = Math.max(maxRank, rank.get(id));
    // Servers nobody talks to yet stand with the other servers, on the right.
    for (const n of g.nodes) if (!connected.has(n.id)) rank.set(n.id, n.listening && n.listening.length ? Math.max(1, maxRank) : 0);
    const cols = [];
    for (const n of g.nodes) {
      const r = rank.get(n.id);
      (cols[r] = cols[r] || []).push(n.id);
    }
    for (let i = 0; i < cols.length; i++) cols[i] = cols[i] || [];
    const order = new Map();
    cols.forEach((c) => c.forEach((id, i) => order.set(id, i)));
    const bary = (id, neighbours) => {
      const ns = neighbours.get(id).filter((x) => order.has(x));
      return ns.length ? ns.reduce((s, x) => s + order.get(x), 0) / ns.length : order.get(id);
    };
    for (let sweep = 0; sweep < 6; sweep++) {
      const down = sweep % 2 === 0;
      const range = down ? cols.map((_, i) => i).slice(1) : cols.map((_, i) => i).reverse().slice(1);
      for (const ci of range) {
        const c = cols[ci];
        c.sort((a, b) => bary(a, down ? inn : out) - bary(b, down ? inn : out));
        c.forEach((id, i) => order.set(id, i));
      }
    }
    state.positions.clear();
    cols.forEach((c, ci) => {
      c.forEach((id, i) => {
        state.positions.set(id, { x: ci * COL_W, y: (i - (c.length - 1) / 2) * ROW_H });
      });
    });
    return true;
  }

  // ------------------------------------------------------------------ drawing

  const nodeEls = new Map();
  const edgeEls = new Map();
  const labelEls = new Map();

  function matches(n) {
    const f = state.filter.toLowerCase();
    if (!f) return true;
    return [n.label, n.id, n.exe || '', n.user || '', n.address || '', n.name || '', ...(n.pids || []).map(String)]
      .some((s) => s.toLowerCase().includes(f));
  }

  function renderGraph(g) {
    const relaid = layout(g);
    $('#empty').hidden = g.nodes.length > 0;
    const maxBytes = Math.max(1, ...g.edges.map((e) => e.bytes_to_server + e.bytes_to_client));
    const visible = new Set(g.nodes.filter(matches).map((n) => n.id));
    const nodeLayer = $('#nodes'), edgeLayer = $('#edges'), labelLayer = $('#edge-labels');

    // nodes
    const seen = new Set();
    for (const n of g.nodes) {
      seen.add(n.id);
      let gEl = nodeEls.get(n.id);
      if (!gEl) {
        gEl = svg('g', { class: 'node' });
        gEl.dataset.id = n.id;
        gEl.append(svg('rect', { class: 'halo', x: -NODE_W / 2 - 4, y: -NODE_H / 2 - 4, width: NODE_W + 8, height: NODE_H + 8, rx: 14 }));
        gEl.append(svg('rect', { class: 'box', x: -NODE_W / 2, y: -NODE_H / 2, width: NODE_W, height: NODE_H, rx: 11 }));
        gEl.append(svg('rect', { class: 'badge-bg', x: -NODE_W / 2 + 10, y: -NODE_H / 2 + 10, width: 18, height: 18, rx: 5 }));
        const badge = svg('text', { class: 'badge', x: -NODE_W / 2 + 19, y: -NODE_H / 2 + 23, 'text-anchor': 'middle' });
        gEl.append(badge);
        gEl.append(svg('text', { class: 'title', x: -NODE_W / 2 + 36, y: -NODE_H / 2 + 24 }));
        gEl.append(svg('text', { class: 'sub', x: -NODE_W / 2 + 12, y: -NODE_H / 2 + 45 }));
        gEl.append(svg('title'));
        gEl.addEventListener('click', (ev) => { ev.stopPropagation(); select('node', n.id); });
        nodeLayer.append(gEl);
        nodeEls.set(n.id, gEl);
      }
      const p = state.positions.get(n.id) || { x: 0, y: 0 };
      gEl.setAttribute('transform', `translate(${p.x},${p.y})`);
      gEl.setAttribute('class', 'node ' + n.kind + (n.listening && n.listening.length ? ' has-listen' : '')
        + (state.selected && state.selected.type === 'node' && state.selected.id === n.id ? ' selected' : '')
        + (visible.has(n.id) ? '' : ' dimmed'));
      gEl.dataset.kind = n.kind;
      gEl.dataset.pids = (n.pids || []).join(' ');
      gEl.querySelector('.badge').textContent = n.kind === 'process' ? (n.pids.length > 1 ? String(Math.min(n.pids.length, 99)) : 'P') : n.kind === 'remote' ? 'R' : 'L';
      gEl.querySelector('.title').textContent = truncate(n.label, 24);
      gEl.querySelector('.sub').textContent = truncate(subtitle(n), 36);
      gEl.querySelector('title').textContent = n.label + '\n' + subtitle(n);
    }
    for (const [id, e] of nodeEls) if (!seen.has(id)) { e.remove(); nodeEls.delete(id); }

    // edges
    const pairIndex = new Map();
    const seenE = new Set();
    for (const e of g.edges) {
      seenE.add(e.id);
      const pair = [e.from, e.to].sort().join('|');
      const idx = pairIndex.get(pair) || 0;
      pairIndex.set(pair, idx + 1);
      const a = state.positions.get(e.from), b = state.positions.get(e.to);
      if (!a || !b) continue;
      const { d, mid } = edgePath(e, a, b, idx);
      let gEl = edgeEls.get(e.id);
      if (!gEl) {
        gEl = svg('g', { class: 'edge' });
        gEl.dataset.id = e.id;
        gEl.dataset.from = e.from;
        gEl.dataset.to = e.to;
        gEl.append(svg('path', { class: 'line' }));
        gEl.append(svg('path', { class: 'hit' }));
        gEl.addEventListener('click', (ev) => { ev.stopPropagation(); select('edge', e.id); });
        edgeLayer.append(gEl);
        edgeEls.set(e.id, gEl);
      }
      const failedOnly = e.failed > 0 && e.failed === e.opened;
      const isSel = state.selected && state.selected.type === 'edge' && state.selected.id === e.id;
      const dim = !(visible.has(e.from) || visible.has(e.to));
      gEl.setAttribute('class', 'edge' + (failedOnly ? ' failed' : e.failed > 0 ? ' partial' : '')
        + (e.rate_to_server + e.rate_to_client > 0 ? ' active' : '') + (isSel ? ' selected' : '') + (dim ? ' dimmed' : ''));
      const width = 1.4 + 4.6 * Math.log10(1 + 9 * (e.bytes_to_server + e.bytes_to_client) / maxBytes);
      const line = gEl.querySelector('.line');
      line.setAttribute('d', d);
      line.setAttribute('stroke-width', width.toFixed(2));
      line.setAttribute('marker-end', isSel ? 'url(#arrow-selected)' : failedOnly ? 'url(#arrow-failed)' : 'url(#arrow)');
      gEl.querySelector('.hit').setAttribute('d', d);

      let lab = labelEls.get(e.id);
      if (!lab) {
        lab = svg('g', { class: 'edge-label' });
        lab.dataset.id = e.id;
        lab.append(svg('rect', { rx: 6 }));
        lab.append(svg('text', { class: 'l1', 'text-anchor': 'middle', y: -3 }));
        lab.append(svg('text', { class: 'l2', 'text-anchor': 'middle', y: 11 }));
        lab.addEventListener('click', (ev) => { ev.stopPropagation(); select('edge', e.id); });
        labelLayer.append(lab);
        labelEls.set(e.id, lab);
      }
      lab.setAttribute('class', 'edge-label' + (failedOnly ? ' failed' : '') + (isSel ? ' selected' : '') + (dim ? ' dimmed' : ''));
      lab.dataset.x = mid.x;
      lab.dataset.y = mid.y;
      const ports = e.ports.length ? (e.proto === 'unix' ? ' ' + truncate(e.ports[0], 22) : '/' + e.ports.slice(0, 3).join(',') + (e.ports.length > 3 ? '…' : '')) : '';
      const l1 = e.proto + ports + ' · ' + (failedOnly ? e.failed + ' failed' : e.opened + ' conn' + (e.open ? ` (${e.open} open)` : ''));
      const l2 = failedOnly ? Object.keys(e.errors).join(', ') || 'failed'
        : `↑ ${fmtBytes(e.bytes_to_server)}  ↓ ${fmtBytes(e.bytes_to_client)}` + (e.failed ? ` · ${e.failed} failed` : '');
      lab.querySelector('.l1').textContent = l1;
      lab.querySelector('.l2').textContent = l2;
      const w = Math.max(l1.length, l2.length) * 6.1 + 16;
      const r = lab.querySelector('rect');
      r.setAttribute('x', (-w / 2).toFixed(1));
      r.setAttribute('y', -16);
      r.setAttribute('width', w.toFixed(1));
      r.setAttribute('height', 32);
      lab.dataset.w = w;
    }
    for (const [id, e] of edgeEls) if (!seenE.has(id)) { e.remove(); edgeEls.delete(id); }
    for (const [id, e] of labelEls) if (!seenE.has(id)) { e.remove(); labelEls.delete(id); }
    spreadLabels();

    if (relaid && !state.userMoved) fit();
  }

  // Labels of edges that meet in the same gap would cover each other: keep their x, push them
  // apart vertically (a few passes, smallest moves first), then place them.
  function spreadLabels() {
    const boxes = [...labelEls.values()].map((l) => ({ l, x: +l.dataset.x, y: +l.dataset.y, w: +l.dataset.w || 100, h: 34 }));
    boxes.sort((a, b) => a.y - b.y);
    for (let pass = 0; pass < 4; pass++) {
      let moved = false;
      for (let i = 0; i < boxes.length; i++) {
        for (let j = i + 1; j < boxes.length; j++) {
          const a = boxes[i], b = boxes[j];
          if (Math.abs(a.x - b.x) * 2 >= a.w + b.w) continue;
          const overlap = (a.h + b.h) / 2 - Math.abs(b.y - a.y);
          if (overlap > 0) {
            if (b.y >= a.y) { a.y -= overlap / 2; b.y += overlap / 2; } else { a.y += overlap / 2; b.y -= overlap / 2; }
            moved = true;
          }
        }
      }
      if (!moved) break;
      boxes.sort((a, b) => a.y - b.y);
    }
    for (const b of boxes) b.l.setAttribute('transform', `translate(${b.x.toFixed(1)},${b.y.toFixed(1)})`);
  }

  function subtitle(n) {
    if (n.kind === 'process') {
      const parts = [];
      parts.push(n.pids.length === 1 ? 'pid ' + n.pids[0] : n.pids.length + ' processes');
      if (n.listening.length) parts.push('listens ' + n.listening.slice(0, 2).map(shortListen).join(' ') + (n.listening.length > 2 ? ' +' + (n.listening.length - 2) : ''));
      else parts.push('↑' + fmtBytes(n.tx_bytes) + ' ↓' + fmtBytes(n.rx_bytes));
      return parts.join(' · ');
    }
    if (n.kind === 'remote') return (n.name ? n.address + ' · ' : '') + 'remote · ↑' + fmtBytes(n.rx_bytes) + ' ↓' + fmtBytes(n.tx_bytes);
    return 'no process known';
  }
  function shortListen(l) { return l.path ? l.path : l.proto + ':' + l.port; }

  function edgePath(e, a, b, idx) {
    const off = (idx % 2 ? 1 : -1) * Math.ceil(idx / 2) * 12;
    if (e.from === e.to) {
      const x1 = a.x + NODE_W / 4, x2 = a.x - NODE_W / 4, y = a.y - NODE_H / 2;
      const d = `M ${x1} ${y} C ${x1 + 30} ${y - 70 - off}, ${x2 - 30} ${y - 70 - off}, ${x2} ${y}`;
      return { d, mid: { x: a.x, y: y - 54 - off } };
    }
    let p0, p1, p2, p3;
    if (b.x - a.x > NODE_W / 2) {
      p0 = { x: a.x + NODE_W / 2, y: a.y + off };
      p3 = { x: b.x - NODE_W / 2 - 2, y: b.y + off };
      const c = Math.max(60, (p3.x - p0.x) / 2);
      p1 = { x: p0.x + c, y: p0.y };
      p2 = { x: p3.x - c, y: p3.y };
    } else if (a.x - b.x > NODE_W / 2) {
      // backwards: leave from the bottom, come into the target's bottom
      p0 = { x: a.x, y: a.y + NODE_H / 2 };
      p3 = { x: b.x, y: b.y + NODE_H / 2 + 2 };
      const drop = 70 + Math.abs(a.x - b.x) / 8 + off;
      p1 = { x: a.x, y: Math.max(a.y, b.y) + drop };
      p2 = { x: b.x, y: Math.max(a.y, b.y) + drop };
    } else {
      // same column: an arc to the right
      const up = b.y < a.y;
      p0 = { x: a.x + NODE_W / 2, y: a.y + (up ? -10 : 10) };
      p3 = { x: b.x + NODE_W / 2 + 2, y: b.y + (up ? 10 : -10) };
      const bulge = 60 + Math.abs(a.y - b.y) / 3 + off;
      p1 = { x: p0.x + bulge, y: p0.y };
      p2 = { x: p3.x + bulge, y: p3.y };
    }
    const mid = { x: (p0.x + 3 * p1.x + 3 * p2.x + p3.x) / 8, y: (p0.y + 3 * p1.y + 3 * p2.y + p3.y) / 8 };
    return { d: `M ${p0.x} ${p0.y} C ${p1.x} ${p1.y}, ${p2.x} ${p2.y}, ${p3.x} ${p3.y}`, mid };
  }

  // ------------------------------------------------------------------ pan and zoom

  function applyView() {
    const v = state.view;
    $('#viewport').setAttribute('transform', `translate(${v.x.toFixed(1)},${v.y.toFixed(1)}) scale(${v.k.toFixed(4)})`);
  }

  function fit() {
    const box = $('#graph').getBoundingClientRect();
    if (!state.positions.size || box.width === 0) { state.view = { x: box.width / 2, y: box.height / 2, k: 1 }; applyView(); return; }
    let minX = Infinity, minY = Infinity, maxX = -Infinity, maxY = -Infinity;
    for (const p of state.positions.values()) {
      minX = Math.min(minX, p.x - NODE_W / 2); maxX = Math.max(maxX, p.x + NODE_W / 2);
      minY = Math.min(minY, p.y - NODE_H / 2 - 80); maxY = Math.max(maxY, p.y + NODE_H / 2 + 60);
    }
    const pad = 60;
    const k = Math.min(1.4, (box.width - 2 * pad) / (maxX - minX), (box.height - 2 * pad) / (maxY - minY));
    state.view = { k, x: box.width / 2 - k * (minX + maxX) / 2, y: box.height / 2 - k * (minY + maxY) / 2 };
    applyView();
  }

  function zoomAt(factor, cx, cy) {
    const v = state.view;
    const k = Math.min(4, Math.max(0.15, v.k * factor));
    v.x = cx - (cx - v.x) * (k / v.k);
    v.y = cy - (cy - v.y) * (k / v.k);
    v.k = k;
    state.userMoved = true;
    applyView();
  }

  function setupPanZoom() {
    const svgEl = $('#graph');
    let drag = null;
    svgEl.addEventListener('wheel', (ev) => {
      ev.preventDefault();
      const r = svgEl.getBoundingClientRect();
      zoomAt(Math.exp(-ev.deltaY * 0.0015), ev.clientX - r.left, ev.clientY - r.top);
    }, { passive: false });
    svgEl.addEventListener('mousedown', (ev) => {
      if (ev.button !== 0) return;
      drag = { x: ev.clientX, y: ev.clientY, vx: state.view.x, vy: state.view.y, moved: false };
      svgEl.classList.add('panning');
    });
    window.addEventListener('mousemove', (ev) => {
      if (!drag) return;
      const dx = ev.clientX - drag.x, dy = ev.clientY - drag.y;
      if (Math.abs(dx) + Math.abs(dy) > 3) drag.moved = true;
      state.view.x = drag.vx + dx;
      state.view.y = drag.vy + dy;
      if (drag.moved) state.userMoved = true;
      applyView();
    });
    window.addEventListener('mouseup', () => {
      if (drag && !drag.moved) { /* a click on the background clears the selection */ }
      drag = null;
      svgEl.classList.remove('panning');
    });
    svgEl.addEventListener('click', (ev) => {
      if (ev.target === svgEl) select(null);
    });
    $('#zoom-in').addEventListener('click', () => { const r = svgEl.getBoundingClientRect(); zoomAt(1.25, r.width / 2, r.height / 2); });
    $('#zoom-out').addEventListener('click', () => { const r = svgEl.getBoundingClientRect(); zoomAt(0.8, r.width / 2, r.height / 2); });
    $('#zoom-fit').addEventListener('click', () => { state.userMoved = false; fit(); });
    window.addEventListener('resize', () => { if (!state.userMoved) fit(); });
  }

  // ------------------------------------------------------------------ details

  function select(type, id) {
    state.selected = type ? { type, id } : null;
    if (state.graph) renderGraph(state.graph);
    refreshDetails();
  }

  function refreshDetails() {
    const box = $('#details');
    const g = state.graph;
    const s = state.selected;
    if (!g || !s) {
      if (!box.querySelector('.placeholder')) box.replaceChildren(placeholder());
      return;
    }
    if (s.type === 'node') {
      const n = g.nodes.find((x) => x.id === s.id);
      box.replaceChildren(n ? nodeDetails(n, g) : gone('node'));
    } else {
      const e = g.edges.find((x) => x.id === s.id);
      box.replaceChildren(e ? edgeDetails(e, g) : gone('edge'));
    }
  }

  function placeholder() {
    return el('div', { class: 'placeholder' },
      el('p', {}, el('b', { text: 'Click a node' }), ' for its processes, listening sockets and traffic.'),
      el('p', {}, el('b', { text: 'Click an edge' }), ' for its connections, bytes each way and latency.'),
      el('p', { class: 'hint', text: 'Drag to pan, scroll to zoom. Edges point from the side that connected to the side that accepted.' }));
  }
  function gone(what) { return el('div', { class: 'placeholder', text: `That ${what} is no longer in the map (grouping changed, or it was forgotten).` }); }

  function dl(rows) {
    const d = el('dl');
    for (const [k, v, field, value] of rows) {
      if (v == null || v === '') continue;
      d.append(el('dt', { text: k }));
      const dd = el('dd', field ? { 'data-field': field, 'data-value': value != null ? String(value) : null } : {});
      if (v instanceof Node) dd.append(v); else dd.textContent = v;
      d.append(dd);
    }
    return d;
  }
  function bytesCell(n) {
    return el('span', {}, fmtBytes(n), ' ', el('span', { class: 'exact', text: `(${fmtInt(n)} bytes)` }));
  }
  const labelOf = (g, id) => (g.nodes.find((n) => n.id === id) || { label: id }).label;

  function nodeDetails(n, g) {
    const frag = el('div');
    frag.append(el('h2', { text: n.label }), el('span', { class: 'kind ' + n.kind, text: n.kind === 'process' ? 'application' : n.kind === 'remote' ? 'remote endpoint' : 'local, no process' }));
    frag.append(dl([
      ['DNS name', n.name],
      ['Address', n.address ? (n.port ? n.address + ' port ' + n.port : n.address) : null],
      ['Executable', n.exe],
      ['User', n.user],
      ['Cgroup', n.cgroup],
      ['Sent', el('span', {}, bytesCell(n.tx_bytes), n.tx_rate ? ' · ' + fmtRate(n.tx_rate) : ''), 'tx-bytes', n.tx_bytes],
      ['Received', el('span', {}, bytesCell(n.rx_bytes), n.rx_rate ? ' · ' + fmtRate(n.rx_rate) : ''), 'rx-bytes', n.rx_bytes],
    ]));
    if (n.listening.length) {
      frag.append(el('h3', { text: 'Listening' }));
      const p = el('div');
      for (const l of n.listening) p.append(el('span', { class: 'pill listen', text: l.display }));
      frag.append(p);
    }
    const out = g.edges.filter((e) => e.from === n.id), inn = g.edges.filter((e) => e.to === n.id && e.from !== n.id);
    if (out.length || inn.length) {
      frag.append(el('h3', { text: 'Talks to' }));
      const t = el('table', {}, el('tr', {}, el('th', { text: '' }), el('th', { text: 'peer' }), el('th', { text: 'proto' }), el('th', { class: 'num', text: 'conns' }), el('th', { class: 'num', text: 'bytes' })));
      for (const [e, dir] of out.map((e) => [e, '→']).concat(inn.map((e) => [e, '←']))) {
        const other = dir === '→' ? e.to : e.from;
        t.append(el('tr', {},
          el('td', { text: dir }),
          el('td', {}, el('span', { class: 'link', text: labelOf(g, other), onclick: () => select('edge', e.id) })),
          el('td', { text: e.proto + (e.ports.length ? (e.proto === 'unix' ? ' ' : '/') + e.ports.slice(0, 2).join(',') : '') }),
          el('td', { class: 'num', text: e.failed ? `${e.opened} (${e.failed}✕)` : String(e.opened) }),
          el('td', { class: 'num', text: fmtBytes(e.bytes_to_server + e.bytes_to_client) })));
      }
      frag.append(t);
    }
    if (n.processes.length) {
      frag.append(el('h3', { text: `Processes (${n.processes.length})` }));
      const t = el('table', {}, el('tr', {}, el('th', { class: 'num', text: 'pid' }), el('th', { text: 'comm' }), el('th', { text: 'user' })));
      for (const p of n.processes.slice(0, 200)) {
        t.append(el('tr', {}, el('td', { class: 'num', text: String(p.pid) }), el('td', { text: p.comm + (p.exited ? ' (exited)' : '') }), el('td', { text: p.user })));
        if (p.cmdline) t.append(el('tr', {}, el('td', {}), el('td', { class: 'cmd', colspan: '2', text: truncate(p.cmdline, 160) })));
      }
      frag.append(t);
    }
    return frag;
  }

  function edgeDetails(e, g) {
    const frag = el('div');
    const failedOnly = e.failed > 0 && e.failed === e.opened;
    frag.append(el('h2', { text: `${labelOf(g, e.from)} → ${labelOf(g, e.to)}` }));
    frag.append(el('span', { class: 'kind' + (failedOnly ? ' failed' : ''), text: e.proto + (e.ports.length ? (e.proto === 'unix' ? ' ' : ' port ') + e.ports.join(', ') : '') + (e.local ? ' · both ends local' : '') }));
    const errs = Object.entries(e.errors).map(([k, v]) => `${k} ×${v}`).join(', ');
    frag.append(dl([
      ['Connections', `${fmtInt(e.opened)} opened · ${fmtInt(e.open)} open`, 'opened', e.opened],
      ['Failed', e.failed ? el('span', { class: 'errors', text: `${e.failed} — ${errs}` }) : '0', 'failed', e.failed],
      ['Client → server', bytesCell(e.bytes_to_server), 'bytes-to-server', e.bytes_to_server],
      ['Server → client', bytesCell(e.bytes_to_client), 'bytes-to-client', e.bytes_to_client],
      ['Rate', `↑ ${fmtRate(e.rate_to_server)}  ↓ ${fmtRate(e.rate_to_client)}`],
      ['Connect time', e.connect_us ? `avg ${fmtUs(e.connect_us.avg)} · max ${fmtUs(e.connect_us.max)} (${e.connect_us.count})` : null],
      ['Round trip', e.rtt_us ? `avg ${fmtUs(e.rtt_us.avg)} · max ${fmtUs(e.rtt_us.max)}` : null],
      ['First response', e.first_response_us ? `avg ${fmtUs(e.first_response_us.avg)} · max ${fmtUs(e.first_response_us.max)}` : null],
      ['First seen', fmtTime(e.first_seen)],
      ['Last seen', fmtTime(e.last_seen)],
    ]));
    if (e.connections.length) {
      frag.append(el('h3', { text: `Connections (${e.connections.length}${e.opened > e.connections.length ? ' of ' + e.opened : ''})` }));
      const t = el('table', { class: 'conn-table' }, el('tr', {},
        el('th', { text: 'client → server' }), el('th', { text: 'state' }), el('th', { class: 'num', text: '↑' }), el('th', { class: 'num', text: '↓' }), el('th', { class: 'num', text: 'connect' })));
      for (const c of e.connections) {
        const who = [c.client_pid ? `${c.client_comm} ${c.client_pid}` : null, c.server_pid ? `${c.server_comm} ${c.server_pid}` : null].filter(Boolean).join(' → ');
        t.append(el('tr', { 'data-conn': String(c.id) },
          el('td', {}, el('div', { text: `${c.client || '?'} → ${c.server || '?'}` }), who ? el('div', { class: 'cmd', text: who }) : null),
          el('td', { class: c.failed ? 'state-failed' : c.open ? 'state-open' : '', text: c.failed ? (c.error || 'FAILED') : c.state }),
          el('td', { class: 'num', text: fmtBytes(c.bytes_to_server) }),
          el('td', { class: 'num', text: fmtBytes(c.bytes_to_client) }),
          el('td', { class: 'num', text: c.connect_us != null ? fmtUs(c.connect_us) : '' })));
      }
      frag.append(t);
    }
    return frag;
  }

  // ------------------------------------------------------------------ tables

  async function fetchJson(url) {
    const r = await fetch(url, { credentials: 'same-origin' });
    if (!r.ok) throw new Error(url + ': ' + r.status);
    return r.json();
  }

  async function refreshTables() {
    if (state.paused) return;
    try {
      if (state.tab === 'processes') {
        state.tables.procs = (await fetchJson('/api/processes')).rows;
        drawProcs();
      } else if (state.tab === 'connections') {
        state.tables.conns = (await fetchJson('/api/connections')).rows;
        drawConns();
      }
    } catch {
      setStatus('down');
    }
  }

  function sorted(rows, sort) {
    const k = sort.key;
    return rows.slice().sort((a, b) => {
      const x = a[k], y = b[k];
      const c = typeof x === 'number' || typeof y === 'number' ? (x ?? -1) - (y ?? -1) : String(x ?? '').localeCompare(String(y ?? ''));
      return sort.desc ? -c : c;
    });
  }
  function rowMatches(r) {
    const f = state.filter.toLowerCase();
    return !f || Object.values(r).some((v) => v != null && String(v).toLowerCase().includes(f));
  }
  function markSorted(table, sort) {
    for (const th of table.querySelectorAll('th')) {
      th.classList.toggle('sorted', th.dataset.key === sort.key);
      th.classList.toggle('asc', th.dataset.key === sort.key && !sort.desc);
    }
  }

  function drawProcs() {
    const table = $('#procs');
    const body = table.querySelector('tbody');
    markSorted(table, state.sorts.procs);
    body.replaceChildren(...sorted(state.tables.procs.filter(rowMatches), state.sorts.procs).slice(0, 500).map((p) => el('tr', { class: p.exited ? 'gone' : '' },
      el('td', { class: 'num', text: String(p.pid) }), el('td', { text: p.user }), el('td', { text: p.comm }),
      el('td', { class: 'num', text: String(p.sockets) }), el('td', { class: 'num', text: fmtRate(p.tx_rate) }), el('td', { class: 'num', text: fmtRate(p.rx_rate) }),
      el('td', { class: 'num', text: fmtBytes(p.tx_bytes) }), el('td', { class: 'num', text: fmtBytes(p.rx_bytes) }),
      el('td', { class: 'num', text: String(p.connects) }), el('td', { class: 'num', text: String(p.connect_fails) }),
      el('td', { class: 'num', text: String(p.resets) }), el('td', { class: 'num', text: String(p.retransmits) }),
      el('td', { class: 'cmd', text: p.cmdline, title: p.cmdline }))));
  }

  function drawConns() {
    const table = $('#conns');
    const body = table.querySelector('tbody');
    markSorted(table, state.sorts.conns);
    body.replaceChildren(...sorted(state.tables.conns.filter(rowMatches), state.sorts.conns).slice(0, 1000).map((c) => el('tr', { class: c.closed ? 'gone' : '' },
      el('td', { text: c.proto }), el('td', { text: c.local }), el('td', { text: c.remote }), el('td', { text: c.state }),
      el('td', { class: 'num', text: c.pid != null ? String(c.pid) : '' }), el('td', { text: c.comm }), el('td', { text: c.user }),
      el('td', { text: c.role || '' }), el('td', { class: 'num', text: fmtRate(c.tx_rate) }), el('td', { class: 'num', text: fmtRate(c.rx_rate) }),
      el('td', { class: 'num', text: fmtBytes(c.tx_bytes) }), el('td', { class: 'num', text: fmtBytes(c.rx_bytes) }),
      el('td', { class: 'num', text: c.srtt_us != null ? fmtUs(c.srtt_us) : '' }), el('td', { class: 'num', text: String(c.retransmits) }),
      el('td', { class: 'num', text: fmtAge(c.age_s) }))));
  }

  function setupTables() {
    for (const [id, key, draw] of [['#procs', 'procs', drawProcs], ['#conns', 'conns', drawConns]]) {
      $(id).querySelector('thead').addEventListener('click', (ev) => {
        const th = ev.target.closest('th');
        if (!th || !th.dataset.key) return;
        const s = state.sorts[key];
        if (s.key === th.dataset.key) s.desc = !s.desc; else { s.key = th.dataset.key; s.desc = th.classList.contains('num'); }
        draw();
      });
    }
  }

  // ------------------------------------------------------------------ events

  function setupEvents() {
    const form = $('#event-form');
    const body = $('#events tbody');
    const status = $('#events-status');
    if (state.info && !state.info.events_available) {
      $('#events-start').disabled = true;
      status.textContent = 'This server does not offer live events (--no-events).';
      return;
    }
    const stop = () => {
      if (state.events) { state.events.close(); state.events = null; }
      $('#events-start').disabled = false;
      $('#events-stop').disabled = true;
    };
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      stop();
      const q = new URLSearchParams();
      for (const [k, v] of new FormData(form).entries()) if (String(v).trim()) q.append(k, String(v).trim());
      body.replaceChildren();
      let count = 0;
      const es = new EventSource('/api/events?' + q.toString());
      state.events = es;
      $('#events-start').disabled = true;
      $('#events-stop').disabled = false;
      status.textContent = 'attaching…';
      es.onopen = () => { status.textContent = 'streaming (filters applied in the kernel)'; };
      es.onmessage = (m) => {
        let e;
        try { e = JSON.parse(m.data); } catch { return; }
        count++;
        const local = e.laddr != null ? (e.lport != null ? `${e.laddr}:${e.lport}` : e.laddr) : '';
        const remote = e.raddr != null ? (e.rport != null ? `${e.raddr}:${e.rport}` : e.raddr) : '';
        const row = el('tr', {},
          el('td', { text: (e.ts || '').slice(11, 26) }),
          el('td', { text: e.func + (e.phase === 'enter' ? '' : e.func === 'lost' ? '' : ' ↩') }),
          el('td', { class: 'num', text: e.pid != null ? String(e.pid) : '' }),
          el('td', { text: e.comm || '' }),
          el('td', { class: 'num', text: e.fd != null ? String(e.fd) : '' }),
          el('td', { text: local }), el('td', { text: remote }),
          el('td', { class: 'num', text: e.bytes != null ? String(e.bytes) : e.count != null ? String(e.count) : '' }),
          el('td', { class: e.error ? 'err' : '', text: e.error || (e.ret != null ? String(e.ret) : '') }));
        body.prepend(row);
        while (body.childElementCount > 500) body.lastElementChild.remove();
        status.textContent = `${fmtInt(count)} events`;
      };
      es.onerror = () => { status.textContent = 'stopped (server closed the stream or refused it)'; stop(); };
    });
    $('#events-stop').addEventListener('click', () => { stop(); status.textContent = 'stopped'; });
  }

  // ------------------------------------------------------------------ chrome

  function setupChrome() {
    for (const b of document.querySelectorAll('.tabs button')) {
      b.addEventListener('click', () => {
        state.tab = b.dataset.tab;
        for (const x of document.querySelectorAll('.tabs button')) x.classList.toggle('active', x === b);
        for (const s of document.querySelectorAll('.tab')) s.classList.toggle('active', s.id === 'tab-' + state.tab);
        if (state.tab === 'map' && !state.userMoved) fit();
        refreshTables();
      });
    }
    const sel = $('#group-by');
    const labels = { 'exe-user': 'executable + user', pid: 'process (pid)', comm: 'command name', exe: 'executable', cgroup: 'cgroup', user: 'user' };
    for (const g of state.info.group_by_choices) sel.append(el('option', { value: g, text: labels[g] || g }));
    sel.value = state.groupBy;
    sel.addEventListener('change', () => {
      state.groupBy = sel.value;
      state.layoutKey = '';
      state.userMoved = false;
      updateDownloads();
      connect();
    });
    $('#filter').addEventListener('input', (ev) => {
      state.filter = ev.target.value.trim();
      if (state.graph) renderGraph(state.graph);
      if (state.tab === 'processes') drawProcs();
      if (state.tab === 'connections') drawConns();
    });
    const pause = $('#pause');
    const toggle = () => {
      state.paused = !state.paused;
      pause.textContent = state.paused ? 'Resume' : 'Pause';
      pause.classList.toggle('on', state.paused);
      setStatus(state.paused ? 'paused' : 'live');
      if (!state.paused && state.pendingGraph) { showGraph(state.pendingGraph); state.pendingGraph = null; }
    };
    pause.addEventListener('click', toggle);
    document.addEventListener('keydown', (ev) => {
      if (ev.target.closest('input, select, textarea')) return;
      if (ev.key === ' ') { ev.preventDefault(); toggle(); }
      if (ev.key === 'Escape') select(null);
      if (ev.key === 'f') { state.userMoved = false; fit(); }
    });
    const menu = $('#download-menu');
    $('#download-btn').addEventListener('click', (ev) => { ev.stopPropagation(); menu.hidden = !menu.hidden; });
    document.addEventListener('click', () => { menu.hidden = true; });
    updateDownloads();
  }

  function updateDownloads() {
    for (const f of ['json', 'dot', 'mermaid']) $('#dl-' + f).href = `/api/graph?format=${f}&download=1&group-by=${encodeURIComponent(state.groupBy)}`;
  }

  // ------------------------------------------------------------------ packets (serve --capture)

  function setupCapture() {
    const info = state.info && state.info.capture;
    if (!state.info || !state.info.capture_available || !info) return;
    const kept = Math.max(1, Math.floor(info.window_s || 60));
    const sel = $('#capture-seconds');
    const choices = [5, 10, 30, 60, 300, 600, 1800, 3600].filter((s) => s < kept);
    choices.push(kept);
    const label = (s) => (s % 60 === 0 && s >= 60 ? `${s / 60} min` : `${s} s`);
    for (const s of choices) sel.append(el('option', { value: String(s), text: 'last ' + label(s) + (s === kept ? ' (all kept)' : '') }));
    sel.value = String(choices.includes(60) ? 60 : kept);
    const link = $('#capture-download');
    const update = () => { link.href = '/api/capture.pcapng?seconds=' + encodeURIComponent(sel.value); };
    sel.addEventListener('change', update);
    update();
    $('#capture-dl').hidden = false;
  }

  async function start() {
    try {
      state.info = await fetchJson('/api/info');
    } catch {
      state.info = { group_by: 'exe-user', group_by_choices: ['exe-user', 'pid', 'comm', 'exe', 'cgroup', 'user'], interval_s: 1, events_available: false };
    }
    state.groupBy = state.info.group_by;
    setupChrome();
    setupPanZoom();
    setupTables();
    setupEvents();
    setupCapture();
    applyView();
    connect();
    setInterval(refreshTables, Math.max(500, (state.info.interval_s || 1) * 1000));
  }

  start();
})();
