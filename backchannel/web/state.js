/** The client's state: one object, mutated by the views and the event handlers. */

export const state = {
  /** @type {{id: string, handle: string, display_name: string} | null} */
  me: null,
  /** Every conversation we know of, by id (each with its own `folder`). @type {Map<string, any>} */
  convs: new Map(),
  /** The inbox tab shown. */
  folder: "primary",
  /** The open conversation's id, or null. */
  openId: null,
  /** The open conversation's loaded messages, by id. @type {Map<string, any>} */
  messages: new Map(),
  /** Cursor for the page before the oldest loaded message (null: none). */
  olderCursor: null,
  /** @type {import("./stream.js").Stream | null} */
  stream: null,
  /** Who is typing: conversation id → (handle → expiry timer). @type {Map<string, Map<string, number>>} */
  typing: new Map(),
  /** Presence as last fetched or pushed: handle → {active, last_active_at}. @type {Map<string, any>} */
  presence: new Map(),
};

/** Forget everything (logging out). */
export function resetState() {
  state.me = null;
  state.convs.clear();
  state.folder = "primary";
  state.openId = null;
  state.messages.clear();
  state.olderCursor = null;
  state.stream = null;
  for (const users of state.typing.values()) for (const t of users.values()) clearTimeout(t);
  state.typing.clear();
  state.presence.clear();
}

/**
 * Merge a conversation into the cache. Fields absent from `conv` (an event's conversation
 * has no per-viewer fields) keep their cached values.
 * @returns {any} the cached conversation
 */
export function upsertConv(conv) {
  const merged = { ...(state.convs.get(conv.id) || {}), ...conv };
  state.convs.set(conv.id, merged);
  return merged;
}

/** Unread messages in Primary and General, muted conversations not counted (title, favicon). */
export function totalUnread() {
  let total = 0;
  for (const c of state.convs.values()) {
    if ((c.folder === "primary" || c.folder === "general") && !isMuted(c)) total += c.unread_count || 0;
  }
  return total;
}

/** Whether a conversation is muted now (a mute with an end lapses on its own). */
export function isMuted(conv) {
  if (!conv.muted) return false;
  const until = conv.muted_until ? Date.parse(conv.muted_until) : NaN;
  return !Number.isFinite(until) || until > Date.now();
}
