"use strict";
// One xterm.js terminal bound to one shell session. Output arrives as binary
// frames and is written to xterm as bytes, so UTF-8 split across frames is
// reassembled by xterm itself. Frames are gathered and written once per
// animation frame, so a flood costs xterm one write (and one parse pass
// ahead of the next paint) per frame instead of one per message, and the
// tab keeps handling keys. Every byte is acknowledged once xterm has
// written it; the server stops reading the PTY while too much is not.
(function () {
  // The server lets 1 MiB go unacknowledged: a flood is acknowledged in
  // large steps, a trickle (prompts, a clock) rarely, to spare messages;
  // both well within the second after which the server asks.
  const ACK_BYTES = 128 * 1024;
  const ACK_DELAY_MS = 200;
  const MAX_BACKOFF_MS = 10000;
  // Hidden tabs get no animation frames: their output is written on a timer.
  const HIDDEN_WRITE_MS = 100;
  // Closes after which reconnecting cannot help: refused, or the shell ended.
  const FINAL = new Map([
    [4403, "not allowed"],
    [4404, "no such container or session"],
    [4409, "the container is not running"],
    [4500, "the shell could not start"],
  ]);
  const encoder = new TextEncoder();

  class TerrariumShell {
    constructor(element, options) {
      this.wsBase = options.wsBase;
      this.sessionId = options.sessionId || "";
      this.readonly = Boolean(options.readonly);
      this.onSession = options.onSession || (() => {});
      this.onExit = options.onExit || (() => {});
      this.onStatus = options.onStatus || (() => {});
      this.attempt = 0;
      this.pendingAck = 0;
      this.ackTimer = null;
      this.incoming = [];
      this.drainScheduled = false;
      this.finished = false;
      this.term = new Terminal({
        cursorBlink: !this.readonly,
        disableStdin: this.readonly,
        scrollback: 5000,
        fontFamily: "ui-monospace, SFMono-Regular, Menlo, Consolas, monospace",
        fontSize: 14,
      });
      this.fit = new FitAddon.FitAddon();
      this.term.loadAddon(this.fit);
      this.term.open(element);
      this.element = element;
      this.term.attachCustomKeyEventHandler((e) => this.copyKey(e));
      this.term.onData((data) => this.input(encoder.encode(data)));
      this.term.onBinary((data) => this.input(Uint8Array.from(data, (c) => c.charCodeAt(0))));
      this.term.onResize(({ rows, cols }) => this.control({ type: "resize", rows, cols }));
      this.resizeObserver = new ResizeObserver(() => this.refit());
      this.resizeObserver.observe(element);
      this.refit();
      this.connect();
    }

    refit() {
      if (this.element.offsetParent !== null) this.fit.fit();
    }

    // Ctrl+Shift+C copies the selection; plain Ctrl+C stays an interrupt.
    copyKey(e) {
      if (e.type === "keydown" && e.ctrlKey && e.shiftKey && e.code === "KeyC" && this.term.hasSelection()) {
        navigator.clipboard.writeText(this.term.getSelection());
        return false;
      }
      return true;
    }

    url() {
      const scheme = location.protocol === "https:" ? "wss:" : "ws:";
      const path = this.sessionId ? `${this.wsBase}${encodeURIComponent(this.sessionId)}/` : this.wsBase;
      return `${scheme}//${location.host}${path}?rows=${this.term.rows}&cols=${this.term.cols}`;
    }

    connect() {
      this.onStatus(this.attempt ? "reconnecting" : "connecting");
      const ws = new WebSocket(this.url());
      ws.binaryType = "arraybuffer";
      this.ws = ws;
      this.pendingAck = 0;
      this.incoming = [];
      ws.onmessage = (event) => {
        if (ws !== this.ws) return;
        if (typeof event.data === "string") {
          // Control messages keep their place after the output before them.
          this.drain();
          this.message(JSON.parse(event.data));
          return;
        }
        this.incoming.push(new Uint8Array(event.data));
        this.scheduleDrain();
      };
      ws.onclose = (event) => this.closed(ws, event);
    }

    message(msg) {
      if (msg.type === "session") {
        this.sessionId = msg.id;
        this.readonly = msg.readonly;
        this.attempt = 0;
        // What follows is the replay of the screen: start from a clean one.
        this.term.reset();
        this.onSession(msg.id, msg.readonly);
        this.onStatus(msg.readonly ? "watching" : "connected");
        if (!msg.readonly) this.control({ type: "resize", rows: this.term.rows, cols: this.term.cols });
      } else if (msg.type === "exit") {
        this.finished = true;
        this.term.write(`\r\n\x1b[2m[shell exited with status ${msg.code ?? "unknown"}]\x1b[0m\r\n`);
        this.onStatus(`exited (${msg.code ?? "unknown"})`);
        this.onExit(msg.code);
      } else if (msg.type === "resuming") {
        // A suspended lab resumes first; the session follows once it runs.
        this.term.write("\x1b[2m[resuming your suspended lab…]\x1b[0m\r\n");
        this.onStatus("resuming");
      } else if (msg.type === "error") {
        this.term.write(`\r\n\x1b[31m[${msg.message}]\x1b[0m\r\n`);
      }
    }

    scheduleDrain() {
      if (this.drainScheduled) return;
      this.drainScheduled = true;
      const run = () => this.drain();
      if (document.hidden) setTimeout(run, HIDDEN_WRITE_MS);
      else requestAnimationFrame(run);
    }

    // Everything the current socket sent since the last frame, as one write
    // (connect() empties the list, so it holds only this socket's bytes).
    drain() {
      this.drainScheduled = false;
      const chunks = this.incoming;
      if (chunks.length === 0) return;
      const ws = this.ws;
      this.incoming = [];
      let bytes = chunks[0];
      if (chunks.length > 1) {
        bytes = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
        let at = 0;
        for (const c of chunks) {
          bytes.set(c, at);
          at += c.length;
        }
      }
      this.term.write(bytes, () => this.written(ws, bytes.length));
    }

    written(ws, n) {
      if (ws !== this.ws) return;
      this.pendingAck += n;
      if (this.pendingAck >= ACK_BYTES) {
        this.flushAck();
      } else if (this.ackTimer === null) {
        this.ackTimer = setTimeout(() => this.flushAck(), ACK_DELAY_MS);
      }
    }

    flushAck() {
      clearTimeout(this.ackTimer);
      this.ackTimer = null;
      if (this.pendingAck > 0 && this.ws.readyState === WebSocket.OPEN) {
        this.ws.send(JSON.stringify({ type: "ack", bytes: this.pendingAck }));
      }
      this.pendingAck = 0;
    }

    input(bytes) {
      if (!this.readonly && this.ws.readyState === WebSocket.OPEN) this.ws.send(bytes);
    }

    control(msg) {
      if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(msg));
    }

    closed(ws, event) {
      if (ws !== this.ws || this.finished) return;
      if (FINAL.has(event.code)) {
        this.finished = true;
        this.onStatus(FINAL.get(event.code));
        this.onExit(null);
        return;
      }
      const delay = Math.min(MAX_BACKOFF_MS, 500 * 2 ** this.attempt) * (0.75 + Math.random() / 2);
      this.attempt += 1;
      this.onStatus("disconnected, retrying");
      this.retryTimer = setTimeout(() => this.connect(), delay);
    }

    // Closing the tab ends the shell; leaving the page does not.
    terminate() {
      this.control({ type: "close" });
    }

    dispose() {
      this.finished = true;
      this.incoming = [];
      clearTimeout(this.retryTimer);
      clearTimeout(this.ackTimer);
      this.resizeObserver.disconnect();
      if (this.ws) this.ws.close();
      this.term.dispose();
    }
  }

  window.TerrariumShell = TerrariumShell;
})();
