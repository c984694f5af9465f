"use strict";
// The full-page terminal: a new shell, or an existing one (the owner's own,
// or a student's watched read-only). The address carries the session id
// once known, so a reload reattaches.
(function () {
  const element = document.getElementById("terminal");
  const status = document.querySelector(".shell-status");
  const shell = new TerrariumShell(element, {
    wsBase: element.dataset.wsBase,
    sessionId: element.dataset.session,
    readonly: element.dataset.readonly === "true",
    onSession: (id) => {
      const path = `${element.dataset.pageBase}${encodeURIComponent(id)}/`;
      if (location.pathname !== path) history.replaceState(null, "", path);
    },
    onStatus: (text) => { status.textContent = text; },
  });
  shell.term.focus();
})();
