/**
 * Who else is here: teammates viewing or answering the open team conversation ("Agnes is
 * viewing", "Otto is typing a reply…" in `#bconv-presence`, a polite live region), so two
 * agents do not answer one customer at once. The protocol is services/team_presence.py's:
 * announce `viewing` while a conversation is open (again every VIEWING_REFRESH_MS), `typing`
 * while writing a reply (again every TYPING_REFRESH_MS, back to `viewing` when the writing
 * stops), `left` on closing it; answer a teammate's new `viewing` with our own (at most once
 * per refresh period), so a newcomer learns at once who is there already. Frames arrive on
 * the stream (`team_presence`); each lasts until its `expires_in_ms`, or a `left`.
 */

import { request } from "../api.js";
import { byId } from "../dom.js";
import { nameOf } from "../render.js";
import { state } from "../state.js";
import { biz } from "./business-state.js";

const VIEWING_REFRESH_MS = 15_000;
const TYPING_REFRESH_MS = 3_000;

/** What I announced: the business and conversation, the state, when, and the timers. */
const mine = { business: null, id: null, state: null, sentAt: 0, answeredAt: 0, refresh: null, idle: null };
/** Teammates here, in the open conversation: handle → {user, state, timer}. @type {Map<string, any>} */
const here = new Map();

export function initPresence() {
  const text = byId("bconv-text");
  text.addEventListener("input", () => {
    if (!mine.id) return;
    clearTimeout(mine.idle);
    if (!text.value.trim()) { if (mine.state === "typing") announce("viewing"); return; }
    if (mine.state !== "typing" || Date.now() - mine.sentAt >= TYPING_REFRESH_MS) announce("typing");
    mine.idle = setTimeout(() => { if (mine.state === "typing") announce("viewing"); }, TYPING_REFRESH_MS);
  });
  // A tab put away or closed is not looking: say so (the socket's close says it too).
  addEventListener("pagehide", () => { if (mine.id) announce("left"); });
}

/** The team conversation `id` of the business shown was opened (or opened again). */
export function presenceOpened(id) {
  if (mine.id && (mine.id !== id || mine.business !== biz.current)) presenceClosed();
  if (mine.id !== id) clearHere();
  mine.business = biz.current;
  mine.id = id;
  mine.answeredAt = 0;
  announce("viewing");
  clearInterval(mine.refresh);
  mine.refresh = setInterval(() => {
    if (mine.state !== "typing") announce("viewing");
  }, VIEWING_REFRESH_MS);
}

/** The open team conversation was closed: `left`, and nobody is shown any more. */
export function presenceClosed() {
  clearInterval(mine.refresh);
  clearTimeout(mine.idle);
  if (mine.id) announce("left");
  mine.id = null;
  mine.business = null;
  mine.state = null;
  clearHere();
}

/** Tell the teammates; over the socket, or by REST when it is down. Failures only cost a hint. */
function announce(what) {
  const business = mine.business;
  const id = mine.id;
  if (!business || !id) return;
  mine.state = what;
  mine.sentAt = Date.now();
  const fields = { business, conversation_id: id, state: what };
  const viaRest = () => request("POST",
    `/businesses/${encodeURIComponent(business)}/conversations/${encodeURIComponent(id)}/presence`, { state: what });
  const sent = state.stream ? state.stream.action("team_presence", fields).catch((err) => {
    if (err.status === 0) return viaRest();
    throw err;
  }) : viaRest();
  sent.catch(() => { /* not ours to see any more: the next open says so */ });
}

/**
 * A `team_presence` frame: `{business, conversation_id, user, state, expires_in_ms}`.
 * Only the open conversation's are shown (others' are of no use until opened, and a new
 * `viewing` answer tells us then).
 */
export function teamPresence(frame) {
  if (frame.business !== mine.business || frame.conversation_id !== mine.id || !frame.user?.handle) return;
  if (frame.user.handle === state.me?.handle) return;
  const handle = frame.user.handle;
  const known = here.get(handle);
  if (known) clearTimeout(known.timer);
  if (frame.state === "left" || !(frame.expires_in_ms > 0)) {
    here.delete(handle);
  } else {
    const timer = setTimeout(() => { here.delete(handle); render(); }, frame.expires_in_ms);
    here.set(handle, { user: frame.user, state: frame.state, timer });
    if (frame.state === "viewing" && !known && Date.now() - mine.answeredAt >= VIEWING_REFRESH_MS) {
      mine.answeredAt = Date.now();
      if (mine.state !== "typing") announce("viewing");
    }
  }
  render();
}

function clearHere() {
  for (const entry of here.values()) clearTimeout(entry.timer);
  here.clear();
  render();
}

/** "Agnes and Otto", "Agnes, Otto and Vera". */
function names(entries) {
  const list = entries.map((e) => nameOf(e.user));
  return list.length > 1 ? `${list.slice(0, -1).join(", ")} and ${list.at(-1)}` : list[0];
}

function render() {
  const line = byId("bconv-presence");
  const entries = [...here.values()].sort((a, b) => nameOf(a.user).localeCompare(nameOf(b.user)));
  const typing = entries.filter((e) => e.state === "typing");
  const viewing = entries.filter((e) => e.state === "viewing");
  const bits = [];
  if (typing.length) bits.push(`${names(typing)} ${typing.length > 1 ? "are" : "is"} typing a reply…`);
  if (viewing.length) bits.push(`${names(viewing)} ${viewing.length > 1 ? "are" : "is"} viewing`);
  const text = bits.join(" · ");
  if (line.textContent !== text) line.textContent = text;
  line.classList.toggle("typing-now", typing.length > 0);
}
