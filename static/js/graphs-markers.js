// A uPlot plugin drawing container events as labelled vertical lines at
// the moment they happened (OOM kills, exits, throttling, limits...).
(function () {
  "use strict";
  const COLORS = {
    oom: "#b42318", exited: "#6b7280", failed: "#b42318", stopped: "#6b7280", started: "#1f6f5c",
    throttled: "#b54708", pids_limit: "#b54708", memory_high: "#c2410c", paused: "#4b5563", resumed: "#1f6f5c",
  };
  const LABELS = { oom: "OOM kill", memory_high: "memory ≥ 90%", pids_limit: "pids limit", throttled: "throttled" };

  function label(e) {
    const base = LABELS[e.kind] || e.kind;
    if (e.kind === "exited" && e.data && e.data.exit_code != null) return base + " (" + e.data.exit_code + ")";
    return base;
  }

  function markersPlugin(getEvents) {
    return {
      hooks: {
        draw: [(u) => {
          const ctx = u.ctx, dpr = devicePixelRatio || 1;
          const { left, top, width, height } = u.bbox;
          ctx.save();
          ctx.font = 10 * dpr + "px system-ui, sans-serif";
          ctx.lineWidth = dpr;
          const rows = [];
          for (const e of getEvents()) {
            const x = Math.round(u.valToPos(e.t, "x", true));
            if (x < left || x > left + width) continue;
            const color = COLORS[e.kind] || "#374151";
            ctx.strokeStyle = color;
            ctx.fillStyle = color;
            ctx.setLineDash([4 * dpr, 3 * dpr]);
            ctx.beginPath();
            ctx.moveTo(x, top);
            ctx.lineTo(x, top + height);
            ctx.stroke();
            // Each label takes the first row where it overlaps no earlier label,
            // so a burst of events (start, OOM kill, exit) stays readable.
            const text = label(e), w = ctx.measureText(text).width;
            const tx = x + 3 * dpr + w > left + width ? x - 3 * dpr - w : x + 3 * dpr;
            let row = rows.findIndex((spans) => spans.every(([a, b]) => tx + w < a || tx > b));
            if (row < 0) row = rows.push([]) - 1;
            rows[row].push([tx - 2 * dpr, tx + w + 2 * dpr]);
            ctx.fillText(text, tx, top + (11 + 11 * row) * dpr);
          }
          ctx.restore();
        }],
      },
    };
  }

  window.TerrariumStats = window.TerrariumStats || {};
  window.TerrariumStats.markersPlugin = markersPlugin;
  window.TerrariumStats.eventLabel = label;
})();
