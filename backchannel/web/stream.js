/**
 * The WebSocket `/api/v1/stream`: authenticate with the first frame, resume from the last
 * processed position (kept in localStorage per user), reconnect with jittered backoff, send
 * heartbeats, and match action replies (`ack`/`error`) to their requests by `id`.
 */

import { ApiError } from "./api.js";

const NO_RETRY = new Set([4001, 4003, 4400]);

/** @param {string} userId @returns {string} the localStorage key of that user's position */
const positionKey = (userId) => `bc.position.${userId}`;

export class Stream {
  /**
   * @param {object} opts
   * @param {string} opts.token bearer token
   * @param {string} opts.userId whose position to keep
   * @param {(event: {position:number,type:string,data:any}) => void} opts.onEvent
   * @param {(frame: any) => void} [opts.onFrame] typing and presence frames
   * @param {(connected: boolean) => void} [opts.onStatus]
   * @param {() => void} [opts.onReset] the stored position was refused: re-fetch all state
   * @param {() => void} [opts.onAuthFailed] the token no longer works: log out
   */
  constructor(opts) {
    this.opts = opts;
    this.ws = null;
    this.connected = false;
    this.stopped = false;
    this.attempt = 0;
    this.nextId = 1;
    /** @type {Map<string, {resolve: Function, reject: Function}>} */
    this.pending = new Map();
    this.heartbeat = null;
    this.retryTimer = null;
    this.authError = null;
  }

  get position() { return localStorage.getItem(positionKey(this.opts.userId)); }

  set position(value) {
    if (value === null) localStorage.removeItem(positionKey(this.opts.userId));
    else localStorage.setItem(positionKey(this.opts.userId), String(value));
  }

  start() {
    this.stopped = false;
    this.connect();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    if (this.ws) this.ws.close(1000);
    this.ws = null;
    this.setConnected(false);
  }

  connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const ws = new WebSocket(`${scheme}://${location.host}/api/v1/stream`);
    this.ws = ws;
    this.authError = null;
    ws.addEventListener("open", () => {
      const auth = { op: "auth", token: this.opts.token };
      if (this.position) auth.since = this.position;
      ws.send(JSON.stringify(auth));
    });
    ws.addEventListener("message", (e) => this.handle(e.data));
    ws.addEventListener("close", (e) => this.closed(ws, e.code));
  }

  handle(raw) {
    let frame;
    try { frame = JSON.parse(raw); } catch { return; }
    switch (frame.op) {
      case "ready": return this.ready(frame);
      case "event": return this.event(frame);
      case "ack": return this.settle(frame.id, (p) => p.resolve(frame));
      case "error":
        if (frame.id === undefined || frame.id === null) { this.authError = frame.error?.code; return; }
        return this.settle(frame.id, (p) => p.reject(
          new ApiError(frame.error?.status || 400, frame.error?.code, frame.error?.message || "Refused.")));
      default: this.opts.onFrame?.(frame);
    }
  }

  ready(frame) {
    if (!this.position) this.position = frame.position;
    this.attempt = 0;
    this.setConnected(true);
    const every = Math.max(5000, (frame.heartbeat_interval_ms || 30000) * 0.8);
    clearInterval(this.heartbeat);
    this.heartbeat = setInterval(() => this.action("ping").catch(() => {}), every);
  }

  event(frame) {
    const last = Number(this.position);
    // A replay may repeat what we processed already (the position is an integer in events).
    if (Number.isInteger(last) && Number(frame.position) <= last) return;
    try {
      this.opts.onEvent(frame);
    } finally {
      this.position = frame.position;
    }
  }

  settle(id, fn) {
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    fn(p);
  }

  closed(ws, code) {
    if (ws !== this.ws) return;
    clearInterval(this.heartbeat);
    this.ws = null;
    this.setConnected(false);
    for (const p of this.pending.values()) p.reject(new ApiError(0, "disconnected", "Connection lost."));
    this.pending.clear();
    if (this.stopped) return;
    if (this.authError === "invalid_token") {
      // Our position is from the future (a restored database): start from now, re-fetch state.
      this.position = null;
      this.opts.onReset?.();
    } else if (NO_RETRY.has(code)) {
      if (code === 4001) this.opts.onAuthFailed?.();
      return;
    }
    const delay = Math.min(30000, 500 * 2 ** this.attempt) * (0.5 + Math.random() / 2);
    this.attempt += 1;
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }

  setConnected(value) {
    if (this.connected === value) return;
    this.connected = value;
    this.opts.onStatus?.(value);
  }

  /**
   * Send an action. Resolves with the `ack` frame; rejects with ApiError (status 0 when the
   * socket is not connected or dropped before the reply: the caller may fall back to REST).
   * @param {"send"|"read"|"typing"|"ping"} op
   * @param {object} [fields]
   */
  action(op, fields = {}) {
    if (!this.connected || !this.ws) {
      return Promise.reject(new ApiError(0, "disconnected", "Not connected."));
    }
    const id = String(this.nextId++);
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.ws.send(JSON.stringify({ op, id, ...fields }));
    });
  }
}
