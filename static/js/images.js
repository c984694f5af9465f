// Shows each image's status as it changes (pending, importing, ready, failed)
// and a pull's bytes per layer, pushed by the server on /ws/images/ (at most
// twice a second per image). The status JSON is read once after each
// (re)connection, for what changed while the socket was down.
(function () {
  "use strict";
  const table = document.getElementById("images");
  if (!table) return;
  function human(bytes) {
    const units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let i = 0;
    while (bytes >= 1024 && i < units.length - 1) { bytes /= 1024; i++; }
    return i === 0 ? `${bytes} B` : `${bytes.toFixed(1)} ${units[i]}`;
  }
  function layerText(layer) {
    const size = layer.total ? `${human(layer.done)} / ${human(layer.total)}` : human(layer.done);
    return `layer ${layer.index}/${layer.count} ${layer.layer.slice(7, 19)}: ${size} (${layer.status})`;
  }
  function show(image) {
    const row = table.querySelector(`tr[data-image-id="${image.id}"]`);
    if (!row) return;
    if (image.status !== undefined) {
      const word = row.querySelector("[data-status]");
      word.dataset.status = image.status;
      word.textContent = image.status;
    }
    if (image.error !== undefined) row.querySelector("[data-error]").textContent = image.error;
    if (image.size_bytes !== undefined) row.querySelector("[data-size]").textContent = human(image.size_bytes);
    if (image.file_count !== undefined) row.querySelector("[data-files]").textContent = image.file_count;
    if (image.format !== undefined) row.querySelector("[data-format]").textContent = image.format || "—";
    const progress = row.querySelector("[data-progress]");
    if (image.layers) {
      progress.replaceChildren(...image.layers.map((layer) => {
        const line = document.createElement("div");
        line.dataset.layer = layer.layer;
        line.textContent = layerText(layer);
        return line;
      }));
    } else if (image.status && image.status !== "importing") {
      progress.replaceChildren();
    }
  }
  async function refresh() {
    try {
      const response = await fetch(table.dataset.statusUrl, { credentials: "same-origin" });
      if (!response.ok) return;
      for (const image of (await response.json()).images) show(image);
    } catch (err) {
      // The server may be restarting; the next connection reads again.
    }
  }
  function connect(delay) {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const socket = new WebSocket(`${scheme}//${location.host}${table.dataset.socketPath}`);
    socket.addEventListener("open", () => { delay = 1000; table.dataset.live = "true"; refresh(); });
    socket.addEventListener("message", (event) => show(JSON.parse(event.data)));
    socket.addEventListener("close", () => {
      delete table.dataset.live;
      setTimeout(() => connect(Math.min(delay * 2, 30000)), delay);
    });
  }
  connect(1000);
})();
