// The container page's live graphs: cpu, memory, pids and network from the
// stats socket, over a chosen range, with events marked where they happened.
(function () {
  "use strict";
  const root = document.querySelector("[data-graphs]");
  if (!root || !window.uPlot) return;
  const { Socket, fmt, markersPlugin, eventLabel } = window.TerrariumStats;
  const RANGES = { "15m": [900, 0], "1h": [3600, 0], "24h": [86400, 60], "7d": [604800, 600] };
  const limitLine = { stroke: "#b42318", dash: [6, 4], width: 1.5, points: { show: false } };
  const peakLine = { stroke: "#9ca3af", dash: [2, 3], width: 1, points: { show: false } };
  const peak = (field) => (s) => (s.max ? s.max[field] : null);
  const GRAPHS = [
    { key: "cpu", fmt: fmt.percent, series: [
      { label: "cpu", value: (s) => s.cpu_percent, stroke: "#1f6f5c", fill: "rgba(31,111,92,.12)" },
      { label: "peak", value: peak("cpu_percent"), ...peakLine },
      { label: "limit", value: (s) => (s.cpus ? s.cpus * 100 : null), ...limitLine },
    ] },
    { key: "memory", fmt: fmt.bytes, series: [
      { label: "usage", value: (s) => s.memory_bytes, stroke: "#2563eb", fill: "rgba(37,99,235,.10)" },
      { label: "working set", value: (s) => s.memory_working_set_bytes, stroke: "#7c3aed" },
      { label: "peak", value: peak("memory_bytes"), ...peakLine },
      { label: "limit", value: (s) => s.memory_limit_bytes, ...limitLine },
    ] },
    { key: "pids", fmt: (v) => (v == null ? "—" : Math.round(v)), series: [
      { label: "pids", value: (s) => s.pids, stroke: "#0f766e" },
      { label: "limit", value: (s) => s.pids_limit, ...limitLine },
    ] },
    { key: "network", fmt: fmt.rate, series: [
      { label: "rx", value: (s) => s.net_rx_bps, stroke: "#0369a1" },
      { label: "tx", value: (s) => s.net_tx_bps, stroke: "#c2410c" },
    ] },
  ];

  const state = { range: "15m", samples: [], events: [] };
  const buttons = root.querySelectorAll("[data-range]");
  const statusEl = root.querySelector("[data-graphs-status]");

  function windowOf() {
    const last = state.samples.length ? state.samples[state.samples.length - 1].t : 0;
    const end = Math.max(Date.now() / 1000, last);
    return [end - RANGES[state.range][0], end];
  }

  const charts = GRAPHS.map((g) => {
    const el = root.querySelector('[data-graph="' + g.key + '"]');
    const opts = {
      width: el.clientWidth || 600,
      height: 170,
      legend: { live: true },
      cursor: { drag: { x: false, y: false } },
      scales: { x: { time: true, range: () => windowOf() }, y: { range: (u, min, max) => [0, Math.max(max || 0, 1) * 1.08] } },
      axes: [{}, { size: 70, values: (u, vals) => vals.map(g.fmt) }],
      series: [{}, ...g.series.map((s) => ({ label: s.label, stroke: s.stroke, fill: s.fill, dash: s.dash,
        width: s.width || 1.5, points: s.points, value: (u, v) => g.fmt(v) }))],
      plugins: [markersPlugin(() => state.events)],
    };
    return { g, el, plot: new uPlot(opts, [[], ...g.series.map(() => [])], el) };
  });

  function redraw() {
    const [start] = windowOf();
    state.samples = state.samples.filter((s) => s.t >= start);
    const t = state.samples.map((s) => s.t);
    for (const c of charts) c.plot.setData([t, ...c.g.series.map((s) => state.samples.map(s.value))]);
    root.dataset.samples = state.samples.length;
    root.dataset.lastT = t.length ? t[t.length - 1] : "";
    root.dataset.events = state.events.length;
  }

  // On the aggregated ranges a live sample joins the current bucket (running
  // mean, extremes) instead of adding a point per second.
  function addLive(sample) {
    const last = state.samples[state.samples.length - 1];
    if (last && sample.t <= last.t) return;
    const step = RANGES[state.range][1];
    if (!step) { state.samples.push(sample); return; }
    const start = Math.floor(sample.t / step) * step;
    if (last && last.t === start) {
      const n = last._n = (last._n || 1) + 1;
      for (const [k, v] of Object.entries(sample)) {
        if (k === "t" || typeof v !== "number") continue;
        last[k] = last[k] == null ? v : last[k] + (v - last[k]) / n;
        last.max[k] = last.max[k] == null ? v : Math.max(last.max[k], v);
        last.min[k] = last.min[k] == null ? v : Math.min(last.min[k], v);
      }
    } else {
      state.samples.push({ ...sample, t: start, _n: 1, min: { ...sample }, max: { ...sample } });
    }
  }

  function addEventRow(e) {
    // Looked up now: the page's events table comes after the graphs in the document.
    const eventsTable = document.querySelector("#events tbody");
    if (!eventsTable || eventsTable.querySelector('[data-event-id="' + e.id + '"]')) return;
    const tr = document.createElement("tr");
    tr.dataset.event = e.kind;
    tr.dataset.eventId = e.id;
    const when = new Date(e.t * 1000);
    const cells = [when.toISOString().replace("T", " ").slice(0, 19), eventLabel(e),
      Object.entries(e.data || {}).map(([k, v]) => k + ": " + v).join(" ")];
    for (const text of cells) { const td = document.createElement("td"); td.textContent = text; tr.appendChild(td); }
    eventsTable.appendChild(tr);
  }

  const socket = new Socket(() => root.dataset.wsPath + "?range=" + state.range, {
    status: (s) => { statusEl.textContent = s === "live" ? "live" : "reconnecting…"; statusEl.dataset.state = s; },
    message: (m) => {
      if (m.type === "history") {
        if (m.range !== state.range) return;
        // The whole range again, so whatever happened while disconnected is filled in.
        state.samples = m.samples;
        state.events = m.events;
      } else if (m.type === "sample") {
        addLive(m);
      } else if (m.type === "event") {
        if (!state.events.some((e) => e.id === m.id)) state.events.push(m);
        addEventRow(m);
      } else {
        return;
      }
      redraw();
    },
  });

  for (const b of buttons) {
    b.addEventListener("click", () => {
      state.range = b.dataset.range;
      for (const other of buttons) other.setAttribute("aria-pressed", String(other === b));
      socket.send({ range: state.range });
    });
  }

  new ResizeObserver(() => {
    for (const c of charts) c.plot.setSize({ width: c.el.clientWidth, height: 170 });
  }).observe(root);
  // Keeps the window sliding while no samples come (a stopped container).
  setInterval(redraw, 5000);
})();
