// Keeps status words current without a reload: polls the page's status JSON every 2 s.
(function () {
  "use strict";
  const detail = document.getElementById("container");
  const list = document.getElementById("containers");
  const root = detail || list;
  if (!root) return;
  const url = root.dataset.statusUrl;

  function show(scope, state) {
    const word = scope.querySelector("[data-status]");
    if (!word) return false;
    const changed = word.dataset.status !== state.status;
    word.dataset.status = state.status;
    word.textContent = state.status;
    const note = scope.querySelector("[data-status-detail]");
    if (note) note.textContent = state.detail || "";
    return changed;
  }

  async function refreshEvents() {
    const page = await fetch(location.href, { credentials: "same-origin" });
    if (!page.ok) return;
    const fresh = new DOMParser().parseFromString(await page.text(), "text/html");
    for (const sel of ["#events tbody", "[data-exit-code]", "[data-oom-killed]", "[data-started-at]", "[data-finished-at]",
                       "[data-container-ip]"]) {
      const mine = document.querySelector(sel), theirs = fresh.querySelector(sel);
      if (!mine || !theirs) continue;
      mine.innerHTML = theirs.innerHTML;
      // The address is also its attribute's value, which checks read.
      if (sel === "[data-container-ip]") mine.dataset.containerIp = theirs.dataset.containerIp;
    }
  }

  async function poll() {
    try {
      const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
      if (response.ok) {
        const data = await response.json();
        if (detail) {
          if (show(detail, data)) refreshEvents();
          for (const button of detail.querySelectorAll("button[data-action]")) {
            button.disabled = !data.actions.includes(button.dataset.action);
          }
          // The shell panel's button is not a lifecycle action: it follows its own flag.
          const openShell = document.querySelector("[data-open-shell]");
          if (openShell) {
            openShell.disabled = !data.shell;
            openShell.title = data.shell ? "" : "The container is not running";
          }
        } else {
          for (const state of data.containers) {
            const row = list.querySelector(`tr[data-container-id="${state.id}"]`);
            if (row) show(row, state);
          }
        }
      }
    } catch (err) {
      // The server may be restarting; the next poll tries again.
    }
    setTimeout(poll, 2000);
  }
  setTimeout(poll, 2000);
})();
