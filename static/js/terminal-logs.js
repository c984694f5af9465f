"use strict";
// The container's main-process output, following live. Frames are records
// of [stream byte][4-byte big-endian length][bytes]; each stream has its own
// streaming decoder so a UTF-8 sequence split across records stays whole.
(function () {
  const panel = document.getElementById("logs");
  if (!panel) return;
  const output = panel.querySelector(".logs-output");
  const status = panel.querySelector(".logs-status");
  const MAX_CHARS = 200000;
  const ACK_DELAY_MS = 50;
  let attempt = 0;
  let ws = null;
  let decoders = {};
  let pendingAck = 0;
  let ackTimer = null;
  let chars = 0;

  function append(stream, text) {
    if (!text) return;
    const atBottom = output.scrollTop + output.clientHeight >= output.scrollHeight - 4;
    const last = output.lastElementChild;
    if (last && last.dataset.stream === String(stream)) {
      last.textContent += text;
    } else {
      const span = document.createElement("span");
      span.dataset.stream = String(stream);
      if (stream === 2) span.className = "stderr";
      span.textContent = text;
      output.append(span);
    }
    chars += text.length;
    while (chars > MAX_CHARS && output.firstElementChild && output.firstElementChild !== output.lastElementChild) {
      chars -= output.firstElementChild.textContent.length;
      output.firstElementChild.remove();
    }
    if (atBottom) output.scrollTop = output.scrollHeight;
  }

  function records(buffer) {
    const view = new DataView(buffer);
    let offset = 0;
    while (offset + 5 <= buffer.byteLength) {
      const stream = view.getUint8(offset);
      const length = view.getUint32(offset + 1);
      const bytes = new Uint8Array(buffer, offset + 5, length);
      decoders[stream] = decoders[stream] || new TextDecoder("utf-8");
      append(stream, decoders[stream].decode(bytes, { stream: true }));
      offset += 5 + length;
    }
  }

  function ack(n) {
    pendingAck += n;
    if (ackTimer === null) {
      ackTimer = setTimeout(() => {
        ackTimer = null;
        if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: "ack", bytes: pendingAck }));
        pendingAck = 0;
      }, ACK_DELAY_MS);
    }
  }

  function connect() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    ws = new WebSocket(`${scheme}//${location.host}${panel.dataset.ws}`);
    ws.binaryType = "arraybuffer";
    let ended = false;
    ws.onmessage = (event) => {
      if (typeof event.data !== "string") {
        records(event.data);
        ack(event.data.byteLength);
        return;
      }
      const msg = JSON.parse(event.data);
      if (msg.type === "start") {
        output.textContent = "";
        chars = 0;
        decoders = {};
        attempt = 0;
        status.textContent = "following";
      } else if (msg.type === "skipped") {
        append(0, `\n[${msg.bytes} bytes skipped]\n`);
      } else if (msg.type === "end") {
        ended = true;
        status.textContent = "the container has stopped";
      } else if (msg.type === "error") {
        status.textContent = msg.message;
      }
    };
    ws.onclose = (event) => {
      if (ended || event.code === 4403 || event.code === 4404 || event.code === 4409) {
        if (!ended) status.textContent = "logs unavailable";
        return;
      }
      status.textContent = "disconnected, retrying";
      attempt += 1;
      setTimeout(connect, Math.min(10000, 500 * 2 ** attempt));
    };
  }

  connect();
})();
