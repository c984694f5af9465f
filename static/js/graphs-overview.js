// The home page's overview: one card per running container the viewer may
// see (cpu and memory sparklines of the last two minutes) and a host panel
// per node, fed by the overview socket.
(function () {
  "use strict";
  const root = document.querySelector("[data-overview]");
  if (!root || !window.uPlot) return;
  const { Socket, fmt } = window.TerrariumStats;
  const KEEP_SECONDS = 120;
  // A container missing from its node's messages this long has stopped.
  const GONE_SECONDS = 6;
  const cardsEl = root.querySelector("[data-cards]");
  const hostsEl = root.querySelector("[data-hosts]");
  const emptyEl = root.querySelector("[data-empty]");
  const statusEl = root.querySelector("[data-graphs-status]");
  const cards = new Map();
  const hosts = new Map();

  function sparkline(el, series) {
    const opts = {
      width: el.clientWidth || 200, height: 40, legend: { show: false }, cursor: { show: false },
      axes: [{ show: false }, { show: false }],
      scales: { x: { time: true }, ...Object.fromEntries(series.map((s) => [s.scale, { range: s.range }])) },
      series: [{}, ...series.map((s) => ({ scale: s.scale, stroke: s.stroke, fill: s.fill, width: 1.25, points: { show: false } }))],
    };
    return new uPlot(opts, [[], ...series.map(() => [])], el);
  }

  const CARD_SERIES = [
    { scale: "cpu", stroke: "#1f6f5c", fill: "rgba(31,111,92,.12)", range: (u, min, max) => [0, Math.max(max || 0, 100)], value: (s) => s.cpu_percent },
    { scale: "mem", stroke: "#2563eb", range: (u, min, max) => [0, Math.max(max || 0, 1)], value: (s) => s.memory_bytes },
  ];
  const HOST_SERIES = [
    { scale: "cpu", stroke: "#1f6f5c", fill: "rgba(31,111,92,.12)", range: [0, 100], value: (s) => s.cpu_percent },
  ];

  function text(el, sel, value) { el.querySelector(sel).textContent = value; }

  function draw(entry, series) {
    const cutoff = Date.now() / 1000 - KEEP_SECONDS;
    entry.samples = entry.samples.filter((s) => s.t >= cutoff);
    entry.plot.setData([entry.samples.map((s) => s.t), ...series.map((d) => entry.samples.map(d.value))]);
  }

  function card(c) {
    let entry = cards.get(c.id);
    if (!entry) {
      const el = document.createElement("article");
      el.className = "overview-card";
      el.dataset.containerId = c.id;
      el.innerHTML = '<h3><a></a><small data-node></small></h3><div class="overview-figures">' +
        "<span>cpu <b data-cpu></b></span><span>mem <b data-mem></b></span><span>pids <b data-pids></b></span></div>" +
        '<div class="sparkline"></div>';
      const link = el.querySelector("a");
      link.href = root.dataset.detailUrl.replace(/0\/$/, c.id + "/");
      link.textContent = c.name;
      cardsEl.appendChild(el);
      entry = { el, samples: [], seen: 0, plot: sparkline(el.querySelector(".sparkline"), CARD_SERIES) };
      cards.set(c.id, entry);
    }
    emptyEl.hidden = true;
    if (c.node) text(entry.el, "[data-node]", c.node);
    return entry;
  }

  function cardSample(entry, s) {
    const last = entry.samples[entry.samples.length - 1];
    if (!last || s.t > last.t) entry.samples.push(s);
    entry.seen = Date.now() / 1000;
    delete entry.el.dataset.stale;
    text(entry.el, "[data-cpu]", fmt.percent(s.cpu_percent));
    text(entry.el, "[data-mem]", fmt.bytes(s.memory_bytes) + (s.memory_limit_bytes ? " / " + fmt.bytes(s.memory_limit_bytes) : ""));
    text(entry.el, "[data-pids]", s.pids + (s.pids_limit ? " / " + s.pids_limit : ""));
    entry.el.dataset.samples = entry.samples.length;
    draw(entry, CARD_SERIES);
  }

  function host(node, samples) {
    let entry = hosts.get(node);
    if (!entry) {
      const el = document.createElement("article");
      el.className = "overview-card host";
      el.dataset.node = node;
      el.innerHTML = '<h3><span></span><small>host</small></h3><div class="overview-figures">' +
        "<span>cpu <b data-cpu></b></span><span>mem <b data-mem></b></span><span>load <b data-load></b></span>" +
        "<span>disk <b data-disk></b></span><span>containers <b data-count></b></span></div><div class=\"sparkline\"></div>";
      el.querySelector("h3 span").textContent = node;
      hostsEl.appendChild(el);
      entry = { el, samples: [], plot: sparkline(el.querySelector(".sparkline"), HOST_SERIES) };
      hosts.set(node, entry);
    }
    for (const s of samples) {
      const last = entry.samples[entry.samples.length - 1];
      if (!last || s.t > last.t) entry.samples.push(s);
    }
    const h = entry.samples[entry.samples.length - 1];
    if (h) {
      text(entry.el, "[data-cpu]", fmt.percent(h.cpu_percent) + " of " + h.cpus);
      text(entry.el, "[data-mem]", fmt.bytes(h.memory_bytes) + " / " + fmt.bytes(h.memory_total_bytes));
      text(entry.el, "[data-load]", [h.load1, h.load5, h.load15].join(" "));
      text(entry.el, "[data-disk]", fmt.bytes(h.disk_used_bytes) + " / " + fmt.bytes(h.disk_total_bytes));
      text(entry.el, "[data-count]", h.containers);
    }
    draw(entry, HOST_SERIES);
  }

  function expire() {
    const now = Date.now() / 1000;
    for (const [id, entry] of cards) {
      if (entry.seen && now - entry.seen > GONE_SECONDS) {
        entry.plot.destroy();
        entry.el.remove();
        cards.delete(id);
      }
    }
    emptyEl.hidden = cards.size > 0;
  }

  new Socket(() => root.dataset.wsPath, {
    status: (s) => { statusEl.textContent = s === "live" ? "live" : "reconnecting…"; statusEl.dataset.state = s; },
    message: (m) => {
      if (m.type === "history") {
        for (const [node, samples] of Object.entries(m.hosts)) host(node, samples);
        for (const c of m.containers) {
          const entry = card({ id: c.id, name: c.name, node: c.node__name });
          for (const s of c.samples) cardSample(entry, s);
        }
      } else if (m.type === "node") {
        host(m.node, [m.host]);
        for (const c of m.containers) cardSample(card({ ...c, node: m.node }), c);
      }
    },
  });
  setInterval(expire, 2000);
})();
