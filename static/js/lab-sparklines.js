"use strict";
// The lab page's memory and cpu sparklines of the last two minutes, fed by
// the container's stats socket (the one its detail page's graphs use).
(function () {
  const root = document.querySelector("[data-lab-sparklines]");
  if (!root || !window.uPlot || !window.TerrariumStats) return;
  const KEEP_SECONDS = 120;
  const { Socket, fmt } = window.TerrariumStats;
  const charts = [
    { key: "cpu", value: (s) => s.cpu_percent, range: (u, min, max) => [0, Math.max(max || 0, 100)],
      label: (s) => `${(s.cpu_percent || 0).toFixed(0)}%` },
    { key: "memory", value: (s) => s.memory_bytes, range: (u, min, max) => [0, Math.max(max || 0, 1)],
      label: (s) => fmt.bytes(s.memory_bytes || 0) },
  ].map((c) => {
    const el = root.querySelector(`[data-spark="${c.key}"]`);
    const plot = new uPlot({
      width: el.clientWidth || 160, height: 32, legend: { show: false }, cursor: { show: false },
      axes: [{ show: false }, { show: false }], scales: { x: { time: true }, y: { range: c.range } },
      series: [{}, { stroke: "#1f6f5c", fill: "rgba(31,111,92,.12)", width: 1.25, points: { show: false } }],
    }, [[], []], el);
    return { ...c, plot, figure: root.querySelector(`[data-spark-value="${c.key}"]`) };
  });
  let samples = [];

  function draw() {
    const cutoff = Date.now() / 1000 - KEEP_SECONDS;
    samples = samples.filter((s) => s.t >= cutoff);
    const last = samples[samples.length - 1];
    for (const c of charts) {
      c.plot.setData([samples.map((s) => s.t), samples.map(c.value)]);
      if (last) c.figure.textContent = c.label(last);
    }
  }

  new Socket(() => `/ws/containers/${root.dataset.container}/stats/?range=15m`, {
    status: () => {},
    message: (msg) => {
      if (msg.type === "history") samples = msg.samples.slice();
      else if (msg.type === "sample") samples.push(msg);
      else return;
      draw();
    },
  });
})();
