// The /ws client: live domain events with catch-up after a reconnect (docs/events.md).
// The last event id seen is the cursor; after a drop the server replays what was missed
// (transient events, like "a colleague is viewing", are live only: handlers let them expire).

const MAX_BACKOFF_MS = 15000;
const CLOSE_AUTH_EXPIRED = 4401;

export class Live {
  constructor(path = "/ws") {
    this.path = path;
    this.cursor = null; // id of the newest event handled
    this.handlers = new Map(); // type or "*" -> Set of functions
    this.statusHandlers = new Set();
    this.attempt = 0;
    this.socket = null;
    this.stopped = false;
    this.state = "connecting";
  }

  /** Call `handler(event)` for events of `type` ("*" for all); returns an unsubscribe function. */
  on(type, handler) {
    if (!this.handlers.has(type)) this.handlers.set(type, new Set());
    this.handlers.get(type).add(handler);
    return () => this.handlers.get(type).delete(handler);
  }

  /** Resolves once the socket is live (events from now on arrive). */
  ready() {
    if (this.state === "live") return Promise.resolve();
    return new Promise((resolve) => {
      const off = this.onStatus((state) => {
        if (state === "live") {
          queueMicrotask(() => off());
          resolve();
        }
      });
    });
  }

  /** Call `handler(state)` with "connecting", "live" or "offline". */
  onStatus(handler) {
    this.statusHandlers.add(handler);
    handler(this.state);
    return () => this.statusHandlers.delete(handler);
  }

  start() {
    this.stopped = false;
    this.connect();
    window.addEventListener("online", () => this.reconnectNow());
    return this;
  }

  stop() {
    this.stopped = true;
    if (this.socket) this.socket.close(1000);
  }

  reconnectNow() {
    if (this.socket && this.socket.readyState <= WebSocket.OPEN) return;
    clearTimeout(this.timer);
    this.connect();
  }

  connect() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const suffix = this.cursor === null ? "" : `?cursor=${this.cursor}`;
    this.setState("connecting");
    const socket = new WebSocket(`${scheme}//${location.host}${this.path}${suffix}`);
    this.socket = socket;
    socket.addEventListener("message", (message) => this.receive(message.data));
    socket.addEventListener("close", (close) => this.closed(close.code));
  }

  receive(raw) {
    let message;
    try {
      message = JSON.parse(raw);
    } catch {
      return;
    }
    if (message.type === "hello") {
      this.attempt = 0;
      if (this.cursor === null) this.cursor = message.cursor;
      this.setState("live");
      this.dispatch("hello", message);
      return;
    }
    if (message.type !== "event") return; // unknown frames are ignored, as docs/events.md asks
    const event = message.event;
    // A transient event (who is viewing) has no id: never stored, never replayed, not a cursor.
    if (!event.transient) {
      if (this.cursor !== null && event.id <= this.cursor) return;
      this.cursor = event.id;
    }
    this.dispatch(event.type, event);
    this.dispatch("*", event);
  }

  dispatch(type, payload) {
    for (const handler of this.handlers.get(type) || []) {
      try {
        handler(payload);
      } catch (error) {
        console.error("live handler failed", type, error);
      }
    }
  }

  closed(code) {
    this.socket = null;
    if (this.stopped) return;
    if (code === CLOSE_AUTH_EXPIRED) {
      document.dispatchEvent(new CustomEvent("hub:unauthorized"));
      return;
    }
    this.setState("offline");
    const delay = Math.min(MAX_BACKOFF_MS, 500 * 2 ** this.attempt) * (0.75 + Math.random() / 2);
    this.attempt += 1;
    this.timer = setTimeout(() => this.connect(), delay);
  }

  setState(state) {
    this.state = state;
    for (const handler of this.statusHandlers) handler(state);
  }
}
