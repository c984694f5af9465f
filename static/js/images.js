// Shows each image's import status as it changes (pending, importing, ready, failed).
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
  async function poll() {
    try {
      const response = await fetch(table.dataset.statusUrl, { credentials: "same-origin" });
      if (response.ok) {
        for (const image of (await response.json()).images) {
          const row = table.querySelector(`tr[data-image-id="${image.id}"]`);
          if (!row) continue;
          const word = row.querySelector("[data-status]");
          word.dataset.status = image.status;
          word.textContent = image.status;
          row.querySelector("[data-error]").textContent = image.error;
          row.querySelector("[data-size]").textContent = human(image.size_bytes);
          row.querySelector("[data-files]").textContent = image.file_count;
          row.querySelector("[data-format]").textContent = image.format || "—";
        }
      }
    } catch (err) {
      // The server may be restarting; the next poll tries again.
    }
    setTimeout(poll, 2000);
  }
  setTimeout(poll, 2000);
})();
