"use strict";
// The shells of one container on its page, one tab each. Open session ids
// are kept in sessionStorage so that a reload reattaches to every tab.
(function () {
  const panel = document.getElementById("shells");
  if (!panel) return;
  const tabs = panel.querySelector(".shell-tabs");
  const panes = panel.querySelector(".shell-panes");
  const storageKey = `terrarium.shells.${panel.dataset.container}`;
  let counter = 0;

  const stored = () => JSON.parse(sessionStorage.getItem(storageKey) || "[]");
  const store = (ids) => sessionStorage.setItem(storageKey, JSON.stringify(ids));
  const remember = (id) => { if (!stored().includes(id)) store([...stored(), id]); };
  const forget = (id) => store(stored().filter((x) => x !== id));

  function select(tab) {
    for (const t of tabs.children) {
      const on = t === tab;
      t.setAttribute("aria-selected", String(on));
      t.pane.hidden = !on;
    }
    tab.shell.refit();
    tab.shell.term.focus();
  }

  function addTab(sessionId) {
    counter += 1;
    const tab = document.createElement("div");
    tab.className = "shell-tab";
    tab.setAttribute("role", "tab");
    const label = document.createElement("button");
    label.type = "button";
    label.className = "shell-tab-label";
    label.textContent = `sh ${counter}`;
    const status = document.createElement("span");
    status.className = "shell-status";
    const popout = document.createElement("a");
    popout.className = "shell-popout";
    popout.title = "Open full page";
    popout.textContent = "⤢";
    popout.target = "_blank";
    const close = document.createElement("button");
    close.type = "button";
    close.className = "shell-close";
    close.title = "End this shell";
    close.textContent = "×";
    tab.append(label, status, popout, close);
    const pane = document.createElement("div");
    pane.className = "shell-pane";
    pane.setAttribute("role", "tabpanel");
    tabs.append(tab);
    panes.append(pane);
    tab.pane = pane;
    const showPopout = (id) => { popout.href = `${panel.dataset.pageBase}${encodeURIComponent(id)}/`; popout.hidden = false; };
    popout.hidden = !sessionId;
    if (sessionId) showPopout(sessionId);
    tab.shell = new TerrariumShell(pane, {
      wsBase: panel.dataset.wsBase,
      sessionId,
      onSession: (id) => { tab.dataset.session = id; remember(id); showPopout(id); },
      onExit: () => { if (tab.dataset.session) forget(tab.dataset.session); tab.classList.add("ended"); },
      onStatus: (text) => { status.textContent = text; },
    });
    label.addEventListener("click", () => select(tab));
    close.addEventListener("click", () => {
      if (tab.dataset.session) forget(tab.dataset.session);
      if (!tab.classList.contains("ended")) tab.shell.terminate();
      tab.shell.dispose();
      const next = tab.previousElementSibling || tab.nextElementSibling;
      tab.remove();
      pane.remove();
      if (next) select(next);
    });
    select(tab);
    return tab;
  }

  panel.querySelector("[data-open-shell]").addEventListener("click", () => addTab(""));
  for (const id of stored()) addTab(id);
})();
