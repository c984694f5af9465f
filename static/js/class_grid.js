// The teacher's grid of a class, kept live by /ws/classes/<id>/: the server
// sends the whole grid at most once a second (and every few seconds for the
// rows' cpu and memory sparklines); each cell is updated in place.
(function () {
  "use strict";
  const table = document.querySelector("[data-class-grid]");
  if (!table) return;
  const classId = table.dataset.classGrid;
  const status = document.querySelector("[data-grid-status]");
  const dialog = document.querySelector("[data-cell-output]");
  const SVG = "http://www.w3.org/2000/svg";

  function duration(seconds) {
    if (seconds === null || seconds === undefined) return "";
    if (seconds < 60) return `${seconds} s`;
    if (seconds < 3600) return `${Math.floor(seconds / 60)} min ${seconds % 60} s`;
    return `${Math.floor(seconds / 3600)} h ${Math.floor((seconds % 3600) / 60)} min`;
  }

  function truncate(text, n) {
    return text.length > n ? text.slice(0, n - 1) + "…" : text;
  }

  function fillCell(td, cell) {
    td.dataset.state = cell.state;
    const button = td.querySelector("[data-cell]");
    button.textContent = "";
    if (cell.state === "passed") {
      button.textContent = `✓ ${duration(cell.seconds)} · ${cell.attempts}×`;
    } else if (cell.state === "failed") {
      button.textContent = `✗ ${cell.failures}× `;
      const small = document.createElement("small");
      small.textContent = truncate(cell.message, 40);
      button.append(small);
    } else if (cell.state === "error") {
      button.textContent = "⚠ broken";
    } else {
      button.textContent = "·";
    }
  }

  function newRow(row, columns) {
    const tr = document.createElement("tr");
    tr.dataset.student = row.student_id;
    const th = document.createElement("th");
    th.scope = "row";
    const name = document.createElement("span");
    name.dataset.username = "";
    name.textContent = row.username;
    const hand = document.createElement("span");
    hand.className = "hand";
    hand.setAttribute("aria-label", "raised hand");
    hand.textContent = "✋";
    const reset = document.createElement("a");
    reset.className = "reset";
    reset.href = `/classes/${classId}/reset/?student=${row.student_id}`;
    reset.textContent = "reset";
    th.append(name, hand, " ", reset);
    tr.append(th);
    for (const column of columns) {
      const td = document.createElement("td");
      td.dataset.step = column.step;
      const button = document.createElement("button");
      button.type = "button";
      button.className = "cell";
      button.dataset.cell = "";
      td.append(button);
      tr.append(td);
    }
    const state = document.createElement("td");
    state.dataset.instanceState = "";
    const idle = document.createElement("td");
    idle.dataset.idle = "";
    const sparks = document.createElement("td");
    sparks.className = "sparks";
    sparks.dataset.sparks = "";
    for (const kind of ["cpu", "memory"]) {
      const svg = document.createElementNS(SVG, "svg");
      svg.setAttribute("viewBox", "0 0 48 16");
      svg.setAttribute("width", "48");
      svg.setAttribute("height", "16");
      svg.setAttribute("role", "img");
      svg.setAttribute("aria-label", kind);
      const line = document.createElementNS(SVG, "polyline");
      line.dataset.sparkLine = kind;
      svg.append(line);
      const label = document.createElement("small");
      label.dataset.sparkLabel = kind;
      sparks.append(svg, label);
    }
    tr.append(state, idle, sparks);
    return tr;
  }

  function render(grid) {
    for (const column of grid.columns) {
      const th = table.querySelector(`th[data-column="${CSS.escape(column.step)}"]`);
      if (!th) continue;
      th.querySelector("[data-share]").textContent = `${column.share} %`;
      th.querySelector("[data-median]").textContent = duration(column.median_seconds) || "–";
    }
    const body = table.tBodies[0];
    const seen = new Set();
    for (const row of grid.rows) {
      let tr = body.querySelector(`tr[data-student="${row.student_id}"]`);
      if (!tr) {
        body.querySelectorAll("tr:not([data-student])").forEach((empty) => empty.remove());
        tr = newRow(row, grid.columns);
        body.append(tr);
      }
      seen.add(String(row.student_id));
      tr.dataset.hand = row.hand_raised ? "raised" : "down";
      tr.querySelector(".hand").hidden = !row.hand_raised;
      for (const cell of row.cells) {
        const td = tr.querySelector(`td[data-step="${CSS.escape(cell.step)}"]`);
        if (td) fillCell(td, cell);
      }
      const state = tr.querySelector("[data-instance-state]");
      state.dataset.instanceState = row.instance_state;
      state.textContent = row.instance_state;
      const idle = tr.querySelector("[data-idle]");
      idle.dataset.idle = row.idle_seconds ?? "";
      idle.textContent = duration(row.idle_seconds);
      for (const kind of ["cpu", "memory"]) {
        tr.querySelector(`[data-spark-line="${kind}"]`).setAttribute("points", row.spark ? row.spark[kind] : "");
        tr.querySelector(`[data-spark-label="${kind}"]`).textContent = row.spark ? row.spark[`${kind}_label`] : "";
      }
    }
    body.querySelectorAll("tr[data-student]").forEach((tr) => {
      if (!seen.has(tr.dataset.student)) tr.remove();
    });
    table.dataset.updates = String(Number(table.dataset.updates || 0) + 1);
  }

  async function showOutput(td) {
    const studentId = td.closest("tr").dataset.student;
    const url = table.dataset.cellUrl.replace("/0/STEP.json", `/${studentId}/${encodeURIComponent(td.dataset.step)}.json`);
    dialog.querySelector("[data-cell-title]").textContent =
      `${td.closest("tr").querySelector("[data-username]").textContent} · ${td.dataset.step}`;
    const response = await fetch(url, { credentials: "same-origin" });
    const recording = dialog.querySelector("[data-cell-recording]");
    recording.hidden = true;
    if (response.ok) {
      const run = await response.json();
      if (run.recording) {
        recording.href = run.recording;
        recording.hidden = false;
      }
      dialog.querySelector("[data-cell-state]").textContent = `${run.state}, exit ${run.exit_code ?? "–"}, ${run.at}`;
      dialog.querySelector("[data-cell-message]").textContent = run.message;
      dialog.querySelector("[data-cell-text]").textContent = run.output + (run.truncated ? "\n[output cut at 8 KiB]" : "");
    } else {
      dialog.querySelector("[data-cell-state]").textContent = "";
      dialog.querySelector("[data-cell-message]").textContent = "No check has run yet.";
      dialog.querySelector("[data-cell-text]").textContent = "";
    }
    dialog.showModal();
  }

  table.addEventListener("click", (event) => {
    const td = event.target.closest("td[data-step]");
    if (td) showOutput(td);
  });

  let delay = 1000;
  function connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const socket = new WebSocket(`${scheme}://${location.host}/ws/classes/${classId}/`);
    socket.addEventListener("open", () => {
      delay = 1000;
      status.textContent = "live";
      table.dataset.connects = String(Number(table.dataset.connects || 0) + 1);
    });
    socket.addEventListener("message", (event) => {
      const message = JSON.parse(event.data);
      if (message.type === "grid") render(message);
    });
    socket.addEventListener("close", (event) => {
      status.textContent = "disconnected, reconnecting…";
      if (event.code === 4403 || event.code === 4404 || event.code === 4401) {
        status.textContent = "closed: reload the page";
        return;
      }
      setTimeout(connect, delay);
      delay = Math.min(delay * 2, 30000);
    });
  }
  connect();
})();
