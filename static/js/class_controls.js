// A student's controls in their class (their lab's page, their class page).
// A lab suspended while idle resumes by itself when the student opens the
// page, or when they come back to a page left open (a key, a click, the tab
// shown again); never only because a page stays open. A warning shows a
// while before the time limit stops the lab and before the idle limit
// suspends it, with a countdown; the server's view (limits.json) is read
// again while a warning shows, since typing in the terminal moves the idle one.
(function () {
  "use strict";
  const box = document.querySelector("[data-class-controls]");
  if (!box) return;
  const warnMs = Number(box.dataset.warningSeconds) * 1000;
  const idleMs = Number(box.dataset.idleLimitSeconds || 0) * 1000;
  const timeWarning = box.querySelector("[data-time-warning]");
  const idleWarning = box.querySelector("[data-idle-warning]");
  const stopEl = box.querySelector("[data-stop-at]");
  let stopAt = stopEl ? Date.parse(stopEl.dataset.stopAt) : null;
  let suspendAt = idleWarning && idleWarning.dataset.suspendAt ? Date.parse(idleWarning.dataset.suspendAt) : null;
  let suspended = Boolean(box.querySelector("[data-suspended]"));
  let resuming = false;
  let lastRead = 0;
  const READ_EVERY_MS = 10000;

  const csrf = () => box.querySelector("[name=csrfmiddlewaretoken]")?.value || "";

  function left(ms) {
    const s = Math.max(0, Math.round(ms / 1000));
    return s < 60 ? `${s} s` : `${Math.floor(s / 60)} min ${s % 60} s`;
  }

  async function readLimits() {
    lastRead = Date.now();
    const response = await fetch(box.dataset.limitsUrl, { credentials: "same-origin" });
    if (!response.ok) return null;
    const limits = await response.json();
    stopAt = limits.stop_at ? Date.parse(limits.stop_at) : null;
    suspendAt = limits.suspend_at ? Date.parse(limits.suspend_at) : null;
    if (limits.suspended && !suspended) {
      // Suspended while this page was open: resumed when the student is back.
      suspended = true;
      if (idleWarning) {
        idleWarning.hidden = false;
        idleWarning.textContent = "Your lab was suspended while idle (nothing is lost): it resumes when you type or click here.";
      }
    }
    return limits;
  }

  async function resume() {
    if (!suspended || resuming) return;
    resuming = true;
    box.querySelector("[data-resuming]")?.removeAttribute("hidden");
    const response = await fetch(box.dataset.backUrl, {
      method: "POST", credentials: "same-origin", headers: { "X-CSRFToken": csrf() },
    });
    if (!response.ok || !(await response.json()).resuming) {
      resuming = false;
      return;
    }
    for (let i = 0; i < 120; i += 1) {
      await new Promise((done) => setTimeout(done, 500));
      const limits = await readLimits();
      // Reloaded: the terminal opens a shell in the running container.
      if (limits && !limits.suspended) {
        location.reload();
        return;
      }
    }
    resuming = false;
  }

  function tick() {
    const now = Date.now();
    let showing = false;
    for (const [el, at] of [[timeWarning, stopAt], [idleWarning, suspended ? null : suspendAt]]) {
      if (!el || (el === idleWarning && suspended)) continue;
      const show = at !== null && now >= at - warnMs && now < at;
      el.hidden = !show;
      showing = showing || show;
      if (show) el.querySelector("[data-countdown]").textContent = left(at - now);
    }
    if ((showing || (suspendAt !== null && now >= suspendAt)) && now - lastRead >= READ_EVERY_MS) readLimits();
  }

  function active() {
    if (suspended) {
      resume();
    } else if (idleMs && suspendAt !== null) {
      // Typing is recorded on the node a few seconds late at most: the countdown starts again now.
      suspendAt = Math.max(suspendAt, Date.now() + idleMs);
    }
  }

  document.addEventListener("keydown", active, true);
  document.addEventListener("pointerdown", active, true);
  document.addEventListener("visibilitychange", () => { if (document.visibilityState === "visible") active(); });
  if (suspended && document.visibilityState === "visible") resume();
  tick();
  setInterval(tick, 1000);
})();
