// Number formats shared by the container graphs and the overview.
(function () {
  "use strict";
  const UNITS = ["B", "KiB", "MiB", "GiB", "TiB"];

  function bytes(v) {
    if (v == null) return "—";
    let i = 0;
    while (Math.abs(v) >= 1024 && i < UNITS.length - 1) { v /= 1024; i++; }
    return (i ? v.toFixed(v < 10 ? 1 : 0) : Math.round(v)) + " " + UNITS[i];
  }

  function rate(v) { return v == null ? "—" : bytes(v) + "/s"; }
  function percent(v) { return v == null ? "—" : v.toFixed(v < 10 ? 1 : 0) + " %"; }

  window.TerrariumStats = window.TerrariumStats || {};
  window.TerrariumStats.fmt = { bytes, rate, percent };
})();
