// A JSON WebSocket that reconnects by itself: exponential backoff from 1 s
// to 30 s with jitter, so a restarted Redis or web process is rejoined
// without a reload and a fleet of pages does not reconnect in lockstep.
(function () {
  "use strict";

  function wsUrl(path) {
    return (location.protocol === "https:" ? "wss://" : "ws://") + location.host + path;
  }

  function StatsSocket(pathFn, handlers) {
    this.pathFn = pathFn;
    this.handlers = handlers;
    this.delay = 1000;
    this.ws = null;
    this.closed = false;
    this.connect();
  }

  StatsSocket.prototype.connect = function () {
    const ws = new WebSocket(wsUrl(this.pathFn()));
    this.ws = ws;
    ws.onopen = () => {
      this.delay = 1000;
      this.handlers.status("live");
    };
    ws.onmessage = (e) => this.handlers.message(JSON.parse(e.data));
    ws.onclose = () => {
      if (this.closed || ws !== this.ws) return;
      const wait = this.delay * (0.75 + Math.random() / 2);
      this.delay = Math.min(this.delay * 2, 30000);
      this.handlers.status("reconnecting");
      setTimeout(() => this.connect(), wait);
    };
  };

  StatsSocket.prototype.send = function (obj) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(obj));
  };

  window.TerrariumStats = window.TerrariumStats || {};
  window.TerrariumStats.Socket = StatsSocket;
})();
