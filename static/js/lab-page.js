"use strict";
// A lab's page: steps on the left, the container's shell on the right.
// The instance's socket sends its state when it opens and again each time a
// check or the instance changes; steps are updated in place. "Run" blocks
// type into the selected shell, "Copy" blocks copy. Steps marked `auto` are
// checked when a command line typed at the prompt has finished: its output
// has been quiet for a moment.
(function () {
  const page = document.getElementById("lab");
  if (!page) return;
  const encoder = new TextEncoder();
  const FINAL = new Set([4401, 4403, 4404]);
  const MAX_BACKOFF_MS = 10000;
  const QUIET_MS = 700;
  const hintTimers = new Map();
  let attempt = 0;
  let status = page.querySelector("[data-instance-status]")?.dataset.instanceStatus || "";

  const csrf = () => page.querySelector("[name=csrfmiddlewaretoken]")?.value || "";
  const stepElement = (id) => page.querySelector(`[data-step="${CSS.escape(id)}"]`);
  const shellPanel = () => document.getElementById("shells");
  const selectedShell = () => shellPanel()?.querySelector('.shell-tab[aria-selected="true"]')?.shell || null;

  function openShellOnce() {
    const panel = shellPanel();
    if (!panel || panel.querySelector(".shell-tab")) return;
    const open = panel.querySelector("[data-open-shell]");
    open.disabled = false;
    open.removeAttribute("title");
    open.click();
  }

  function showStep(view) {
    const el = stepElement(view.id);
    if (!el) return;
    el.dataset.state = view.state;
    el.toggleAttribute("data-running", view.running);
    el.querySelector("[data-state-label]").textContent = view.running ? "checking…" : view.state;
    el.querySelector("[data-message]").textContent = view.message;
    const button = el.querySelector("[data-check]");
    if (button) button.disabled = view.running || status !== "ready";
    const output = el.querySelector("[data-output]");
    output.hidden = !view.output;
    output.querySelector("pre").textContent = view.output;
    const summary = output.querySelector("summary");
    summary.textContent = view.exit_code === null || view.exit_code === undefined ? "Output" : `Output (exit ${view.exit_code})`;
    const hints = el.querySelector("[data-hints]");
    // Hints are the server's Markdown rendering, raw HTML off (dashboard.labs.markdown).
    hints.replaceChildren(...view.hints.map((html) => {
      const aside = document.createElement("aside");
      aside.className = "lab-hint";
      aside.setAttribute("aria-label", "Hint");
      aside.innerHTML = html;
      return aside;
    }));
    scheduleHint(view.id, view.next_hint_at);
  }

  // A hint unlocked by time is fetched once, when it unlocks.
  function scheduleHint(stepId, at) {
    clearTimeout(hintTimers.get(stepId));
    if (!at || !page.dataset.stateUrl) return;
    const delay = Math.max(0, Date.parse(at) - Date.now()) + 500;
    hintTimers.set(stepId, setTimeout(async () => {
      const response = await fetch(`${page.dataset.stateUrl}?step=${encodeURIComponent(stepId)}`, { credentials: "same-origin" });
      if (response.ok) show(await response.json());
    }, delay));
  }

  function show(view) {
    const before = status;
    status = view.status;
    const label = page.querySelector("[data-instance-status]");
    if (label) {
      label.dataset.instanceStatus = view.status;
      label.textContent = view.status;
    }
    const progress = page.querySelector("[data-progress]");
    if (progress) progress.textContent = `${view.progress.passed}/${view.progress.total}`;
    const points = page.querySelector("[data-points]");
    if (points) points.textContent = String(view.progress.points);
    for (const step of view.steps) showStep(step);
    if (view.status === "ready" && page.dataset.checkBase) openShellOnce();
    // A failed setup turns the page back into its "Start lab" form.
    if (view.status === "failed" && before && before !== "failed") location.reload();
  }

  function connect() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const ws = new WebSocket(`${scheme}//${location.host}${page.dataset.ws}`);
    ws.onopen = () => { attempt = 0; };
    ws.onmessage = (event) => {
      const msg = JSON.parse(event.data);
      if (msg.type === "instance") show(msg);
    };
    ws.onclose = (event) => {
      if (FINAL.has(event.code)) return;
      const delay = Math.min(MAX_BACKOFF_MS, 500 * 2 ** attempt);
      attempt += 1;
      setTimeout(connect, delay);
    };
  }

  async function check(button) {
    const id = button.closest("[data-step]").dataset.step;
    button.disabled = true;
    await requestCheck(id, button);
  }

  async function requestCheck(id, button) {
    const response = await fetch(`${page.dataset.checkBase}${encodeURIComponent(id)}/check/`, {
      method: "POST", credentials: "same-origin", headers: { "X-CSRFToken": csrf() },
    });
    const body = await response.json();
    if (response.ok) {
      show(body);
    } else {
      if (button) button.disabled = false;
      stepElement(id).querySelector("[data-message]").textContent = body.error || `Error ${response.status}`;
    }
  }

  // Typed as the keyboard would: Enter is a carriage return.
  function typeIntoShell(text, tries = 50) {
    const shell = selectedShell();
    if (shell && shell.ws && shell.ws.readyState === WebSocket.OPEN && shell.sessionId) {
      shell.input(encoder.encode(text.replace(/\r?\n/g, "\r")));
      shell.term.focus();
      return;
    }
    openShellOnce();
    if (tries > 0) setTimeout(() => typeIntoShell(text, tries - 1), 100);
  }

  let quietTimer = null;
  let waiting = false;

  function autoCheck() {
    waiting = false;
    if (status !== "ready") return;
    for (const el of page.querySelectorAll("[data-step][data-auto]")) {
      if (el.dataset.state !== "passed" && !el.hasAttribute("data-running")) requestCheck(el.dataset.step, null);
    }
  }

  function commandEntered() {
    if (!page.querySelector("[data-step][data-auto]")) return;
    waiting = true;
    clearTimeout(quietTimer);
    quietTimer = setTimeout(autoCheck, QUIET_MS);
  }

  function watchShells() {
    const panel = shellPanel();
    if (!panel) return;
    panel.addEventListener("keydown", (event) => { if (event.key === "Enter") commandEntered(); }, true);
    // Output still coming: the command has not finished.
    new MutationObserver(() => {
      if (!waiting) return;
      clearTimeout(quietTimer);
      quietTimer = setTimeout(autoCheck, QUIET_MS);
    }).observe(panel.querySelector(".shell-panes"), { subtree: true, childList: true, characterData: true });
  }

  page.addEventListener("click", (event) => {
    const target = event.target;
    if (target.matches("[data-check]")) {
      check(target);
    } else if (target.matches(".lab-code-run")) {
      const text = target.closest(".lab-code").querySelector("code").textContent;
      typeIntoShell(text);
      if (/\n/.test(text)) commandEntered();
    } else if (target.matches(".lab-code-copy")) {
      navigator.clipboard.writeText(target.closest(".lab-code").querySelector("code").textContent);
      target.textContent = "Copied";
      setTimeout(() => { target.textContent = "Copy"; }, 1500);
    }
  });

  watchShells();
  if (page.dataset.ws) connect();
})();
