/**
 * The conversation pane: header, request bar, message list, composer, typing indicator,
 * read markers. Messages of the open conversation live in `state.messages`.
 */

import { api, uuid } from "../api.js";
import { byId, h } from "../dom.js";
import { conversationTitle, initial, messageItem, nameOf } from "../render.js";
import { state, upsertConv } from "../state.js";
import { anyFailed, clearAttachments, initAttachments, mediaIds, uploading } from "./attachments.js";
import { disappearingText, initDisappearing } from "./disappearing.js";
import { closeEmoji, initEmoji } from "./emoji.js";
import { initLater, showScheduled } from "./later.js";
import { closeForward, openForward } from "./forward.js";
import { renderGroupSettings } from "./group.js";
import { renderInbox } from "./inbox.js";
import { cancelLocation, initLocation } from "./location.js";
import { closeMenu, initMenu, renderMenu } from "./menu.js";
import { fetchPresence, renderPresence } from "./presence.js";
import { blockAndReport, openReport } from "./report.js";
import { cancelVoice, initVoice } from "./voice.js";

export { fetchPresence, presenceText, setPresence } from "./presence.js";

const TYPING_REFRESH_MS = 3000;
let lastTypingSent = 0;
let readInFlight = 0;
const actions = {
  onUnsend: unsend, onReact: react, onReply: startReply, onEdit: startEdit,
  onForward: openForward, onDeleteForMe: deleteForMe, onRemovePreview: removePreview,
  onReport: (msg) => openReport({ kind: "message", conversation_id: msg.conversation_id, message_id: msg.id }),
  onQuickReply: quickReply,
};
/** The message being replied to, or being edited (one at a time). */
let replyTo = null;
let editing = null;
/** Where "New messages" starts: my read position when the conversation was opened (or null). */
let unreadAfter = null;
let loadingOlder = false;
/** The most older pages opening a conversation loads to reach its first unread message. */
const MAX_PAGES_TO_UNREAD = 5;

export function initConversation() {
  const composer = byId("composer");
  byId("composer-form").addEventListener("submit", (e) => { e.preventDefault(); send(); });
  composer.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); send(); }
  });
  composer.addEventListener("input", () => { autoGrow(composer); typingChanged(); });
  composer.addEventListener("blur", () => stopTyping());
  byId("back").addEventListener("click", closeConversation);
  initAttachments();
  initEmoji();
  initLocation(sendFields);
  initVoice(sendFields);
  byId("load-older").addEventListener("click", loadOlder);
  // Infinite scroll: the "Load older" button doubles as the sentinel (and stays for keyboards).
  new IntersectionObserver((entries) => {
    if (entries.some((e) => e.isIntersecting)) loadOlder();
  }, { root: byId("scroller"), rootMargin: "300px 0px 0px 0px" }).observe(byId("load-older"));
  byId("scroller").addEventListener("scroll", renderJump, { passive: true });
  byId("jump-newest").addEventListener("click", () => { scrollToBottom(); renderJump(); });
  byId("request-accept").addEventListener("click", accept);
  byId("request-delete").addEventListener("click", () => decline(false));
  byId("request-block").addEventListener("click", () => decline(true));
  byId("request-block-report").addEventListener("click", () => {
    const id = state.openId;
    const conv = state.convs.get(id);
    if (conv) blockAndReport(conv, () => { state.convs.delete(id); if (state.openId === id) closeConversation(); });
  });
  byId("reply-cancel").addEventListener("click", () => { clearBanner(); byId("composer").focus(); });
  composer.addEventListener("keydown", (e) => { if (e.key === "Escape" && (replyTo || editing)) clearBanner(); });
  byId("forward-cancel").addEventListener("click", closeForward);
  initMenu();
  initDisappearing(() => { renderInbox(); renderHeader(); });
  initLater();
  document.addEventListener("visibilitychange", markRead);
  window.addEventListener("focus", markRead);
}

/** Open a conversation: show the pane, load its newest page, mark it read. */
export async function openConversation(id) {
  const focused = document.activeElement;
  if (state.openId !== id) { stopTyping(); clearAttachments(); clearBanner(); closeForward(); closeMenu(); resetTools(); }
  state.openId = id;
  state.messages.clear();
  state.olderCursor = null;
  byId("messages").replaceChildren();
  byId("composer-error").textContent = "";
  byId("conversation-empty").hidden = true;
  byId("conversation-view").hidden = false;
  byId("app").classList.add("show-conversation");
  renderHeader();
  renderTyping();
  renderInbox();
  fetchPresence();
  refreshReceipts(id);
  showScheduled(id);
  const conv = state.convs.get(id);
  unreadAfter = conv?.unread_count > 0 ? (conv.read_position || 0) : null;
  try {
    const page = await api.history(id);
    if (state.openId !== id) return;
    for (const m of page.items) state.messages.set(m.id, m);
    state.olderCursor = page.before_cursor;
    // Reach back to the first unread message (a few pages at most), then show it first.
    for (let i = 0; unreadAfter !== null && state.olderCursor && i < MAX_PAGES_TO_UNREAD; i++) {
      if (oldestPosition() <= unreadAfter) break;
      const older = await api.history(id, state.olderCursor);
      if (state.openId !== id) return;
      for (const m of older.items) state.messages.set(m.id, m);
      state.olderCursor = older.before_cursor;
    }
    renderMessages();
    const divider = byId("messages").querySelector(".unread-divider");
    if (divider) divider.scrollIntoView({ block: "start" }); else scrollToBottom();
    renderJump();
    markRead();
  } catch (err) {
    if (state.openId === id) byId("composer-error").textContent = err.message;
  }
  // Into the composer — unless the person moved on while the history loaded.
  if (document.activeElement === focused || document.activeElement === document.body) {
    byId("composer").focus();
  }
}

/** Close the pane (the back button on narrow screens). */
export function closeConversation() {
  stopTyping();
  clearAttachments();
  clearBanner();
  closeForward();
  closeMenu();
  resetTools();
  const id = state.openId;
  state.openId = null;
  renderGroupSettings(); // closes it
  state.messages.clear();
  unreadAfter = null;
  byId("conversation-view").hidden = true;
  byId("conversation-empty").hidden = false;
  byId("app").classList.remove("show-conversation");
  renderInbox();
  if (id) document.querySelector(`li.conversation[data-id="${CSS.escape(id)}"] button`)?.focus();
}

/** Re-render the header and request bar from the cached conversation. */
export function renderHeader() {
  const conv = state.convs.get(state.openId);
  if (!conv) return;
  const title = conversationTitle(conv, state.me);
  byId("conversation-title").textContent = title;
  byId("conversation-avatar").textContent = initial(title);
  const others = (conv.members || []).filter((m) => m.id !== state.me.id);
  let subtitle = conv.kind === "group" ? `${conv.member_count} members`
    : others[0]?.handle ? `@${others[0].handle}` : "";
  if (conv.awaiting_acceptance) subtitle = "Request sent — they haven't accepted it yet.";
  const timer = disappearingText(conv);
  if (timer) subtitle = subtitle ? `${subtitle} · ${timer}` : timer;
  byId("conversation-subtitle").textContent = subtitle;
  renderMenu(conv);
  renderGroupSettings();
  renderPresence();
  renderSeen();
  const req = conv.request;
  const bar = byId("request-bar");
  bar.hidden = !req || req.status === "declined";
  if (req) {
    const from = (conv.members || []).find((m) => m.handle === req.from);
    byId("request-text").textContent = `${from ? nameOf(from) : req.from} wants to send you a message.`;
  }
}

function renderMessages() {
  const conv = state.convs.get(state.openId) || { kind: "direct" };
  const sorted = [...state.messages.values()].sort((a, b) => a.position - b.position);
  byId("messages").replaceChildren(...sorted.map((m) => messageElement(m, conv)));
  byId("load-older").hidden = !state.olderCursor;
  decorate();
  renderSeen();
}

/** A message's element, remembering its position and what its attachments look like. */
function messageElement(msg, conv) {
  const li = messageItem(msg, state.me, conv, actions);
  li.dataset.position = String(msg.position);
  li.dataset.media = mediaKey(msg);
  return li;
}

/** What an attachment list shows: when it is unchanged, its elements are kept. */
function mediaKey(msg) {
  return JSON.stringify((msg.unsent ? [] : msg.media || [])
    .map((m) => [m.id, !!m.erased, (m.opened_by || []).length]));
}

/**
 * Insert or replace one message of the open conversation, keeping position order. A
 * replaced message keeps its attachment elements when they are unchanged, so a reaction
 * or an edit does not restart a playing video or reload a photo.
 * @param {any} msg
 */
export function placeMessage(msg) {
  if (msg.conversation_id !== state.openId) return;
  state.messages.set(msg.id, msg);
  const list = byId("messages");
  const conv = state.convs.get(state.openId) || { kind: "direct" };
  const li = messageElement(msg, conv);
  const old = list.querySelector(`li.message[data-id="${CSS.escape(msg.id)}"]`);
  if (old) {
    const kept = old.querySelector(".media-list");
    const fresh = li.querySelector(".media-list");
    if (kept && fresh && old.dataset.media === li.dataset.media) fresh.replaceWith(kept);
    old.replaceWith(li);
    decorate();
    renderSeen();
    return;
  }
  if (msg.sender?.id === state.me.id) unreadAfter = null; // answering: caught up
  const nearBottom = isNearBottom();
  const after = [...list.querySelectorAll("li.message")].find((el) => Number(el.dataset.position) > msg.position);
  list.insertBefore(li, after || null);
  decorate();
  renderSeen();
  if (nearBottom || msg.sender?.id === state.me.id) scrollToBottom();
  renderJump();
}

/** Minutes between two messages of one sender that still make one group of bubbles. */
const GROUP_GAP_MS = 10 * 60 * 1000;

/** @param {string} iso @returns {string} "Today", "Yesterday", "Monday", or "3 March 2026" */
export function dayLabel(iso) {
  const d = new Date(iso);
  const today = new Date();
  const days = Math.round((new Date(today.toDateString()) - new Date(d.toDateString())) / 86400000);
  if (days === 0) return "Today";
  if (days === 1) return "Yesterday";
  if (days > 1 && days < 7) return d.toLocaleDateString([], { weekday: "long" });
  return d.toLocaleDateString([], { day: "numeric", month: "long", year: "numeric" });
}

/**
 * Lay out the list: a divider at each new day, "New messages" before the first unread one,
 * and consecutive messages of one sender grouped (`.cont` continues a group, `.last` ends it).
 * Dividers already in the right place stay (the list is a live region: no re-announcing).
 */
function decorate() {
  const list = byId("messages");
  let prev = null;
  let unreadPlaced = false;
  let pending = []; // the dividers met since the last message
  for (const el of [...list.children]) {
    if (!el.classList.contains("message")) { pending.push(el); continue; }
    const msg = state.messages.get(el.dataset.id);
    if (!msg) continue;
    const wanted = [];
    const newDay = !prev || new Date(prev.created_at).toDateString() !== new Date(msg.created_at).toDateString();
    if (newDay) wanted.push(["day-divider", dayLabel(msg.created_at)]);
    const isUnread = !unreadPlaced && unreadAfter !== null && msg.position > unreadAfter
      && msg.sender?.id !== state.me.id;
    if (isUnread) { unreadPlaced = true; wanted.push(["unread-divider", "New messages"]); }
    const same = pending.length === wanted.length
      && pending.every((d, i) => d.className === wanted[i][0] && d.textContent === wanted[i][1]);
    if (!same) {
      for (const d of pending) d.remove();
      for (const [cls, text] of wanted) el.before(h("li", { class: cls, attrs: { role: "separator" } }, h("span", { text })));
    }
    pending = [];
    const cont = !newDay && !isUnread && prev.sender?.id === msg.sender?.id
      && new Date(msg.created_at) - new Date(prev.created_at) < GROUP_GAP_MS;
    el.classList.toggle("cont", cont);
    if (cont) el.previousElementSibling?.classList.remove("last");
    el.classList.add("last");
    prev = msg;
  }
  for (const d of pending) d.remove();
}

function oldestPosition() {
  let oldest = Infinity;
  for (const m of state.messages.values()) oldest = Math.min(oldest, m.position);
  return oldest;
}

/** Show "Jump to newest" while scrolled away from the bottom. */
function renderJump() {
  byId("jump-newest").hidden = !state.openId || isNearBottom();
}

/**
 * "Seen" under my newest message, when the others' read positions reach it
 * (`read_positions`: handle → position; only while both sides share read receipts).
 */
export function renderSeen() {
  const list = byId("messages");
  for (const el of list.querySelectorAll(".seen")) el.remove();
  const conv = state.convs.get(state.openId);
  if (!conv) return;
  const mine = [...state.messages.values()].filter((m) => m.sender?.id === state.me.id && !m.unsent);
  const last = mine.reduce((a, m) => (!a || m.position > a.position ? m : a), null);
  if (!last) return;
  const positions = conv.read_positions || {};
  const others = (conv.members || []).filter((m) => m.id !== state.me.id && m.handle);
  const seenBy = others.filter((m) => (positions[m.handle] ?? -1) >= last.position);
  if (!seenBy.length) return;
  const li = list.querySelector(`li.message[data-id="${CSS.escape(last.id)}"]`);
  if (!li) return;
  const text = conv.kind === "direct" ? "Seen"
    : seenBy.length === others.length ? "Seen by everyone" : `Seen by ${seenBy.map(nameOf).join(", ")}`;
  li.append(h("span", { class: "seen", text }));
}

/** Take fresh `read_positions` (they change without an event when receipts are turned off). */
async function refreshReceipts(id) {
  try {
    const fresh = await api.conversation(id);
    const conv = state.convs.get(id);
    if (!conv) return;
    conv.read_positions = fresh.read_positions || {};
    conv.members = fresh.members || conv.members;
    if (state.openId === id) renderSeen();
  } catch { /* the cached state stays */ }
}

/** Apply a `receipt.updated` event. */
export function applyReceipt(d) {
  const conv = state.convs.get(d.conversation_id);
  if (!conv) return;
  const positions = conv.read_positions || (conv.read_positions = {});
  if ((positions[d.user] ?? -1) >= d.read_position) return;
  positions[d.user] = d.read_position;
  if (d.conversation_id === state.openId) renderSeen();
}

/**
 * Change a loaded message in place (events: edited, unsent, reactions).
 * @param {string} messageId @param {(m: any) => void} change
 */
export function patchMessage(messageId, change) {
  const msg = state.messages.get(messageId);
  if (!msg) return;
  change(msg);
  keepFocus(messageId, () => placeMessage(msg));
}

/**
 * Run `rerender` (which replaces the message's element) and put the focus back on the same
 * control of the new element, when it was inside (a reaction should not drop the keyboard).
 */
function keepFocus(messageId, rerender) {
  const selector = `li.message[data-id="${CSS.escape(messageId)}"]`;
  const focused = document.activeElement;
  const old = focused?.closest?.(selector);
  let key = null;
  if (old && focused.classList.length) {
    const cls = focused.classList[0];
    key = { cls, index: [...old.querySelectorAll(`.${CSS.escape(cls)}`)].indexOf(focused) };
  }
  rerender();
  if (!key) return;
  const same = document.querySelectorAll(`${selector} .${CSS.escape(key.cls)}`);
  (same[key.index] || same[0] || document.querySelector(`${selector} .action-react`))?.focus();
}

/** Remove a message from view (deleted for me on another device). */
export function removeMessage(messageId) {
  if (replyTo?.id === messageId || editing?.id === messageId) clearBanner();
  state.messages.delete(messageId);
  document.querySelector(`li.message[data-id="${CSS.escape(messageId)}"]`)?.remove();
}

async function loadOlder() {
  const id = state.openId;
  if (!id || !state.olderCursor || loadingOlder) return;
  loadingOlder = true;
  const scroller = byId("scroller");
  try {
    const page = await api.history(id, state.olderCursor);
    if (state.openId !== id) return;
    const fromBottom = scroller.scrollHeight - scroller.scrollTop;
    const list = byId("messages");
    const conv = state.convs.get(id) || { kind: "direct" };
    const first = list.querySelector("li.message");
    const fresh = page.items.filter((m) => !state.messages.has(m.id)).sort((a, b) => a.position - b.position);
    for (const m of fresh) {
      state.messages.set(m.id, m);
      list.insertBefore(messageElement(m, conv), first);
    }
    state.olderCursor = page.before_cursor;
    byId("load-older").hidden = !state.olderCursor;
    decorate();
    scroller.scrollTop = scroller.scrollHeight - fromBottom;
  } catch (err) {
    byId("composer-error").textContent = err.message;
  } finally {
    loadingOlder = false;
  }
}

/** Send the composer's text: over the socket when connected, else by REST (same txn_id). */
async function send() {
  const composer = byId("composer");
  const text = composer.value.trim();
  const id = state.openId;
  if (!id) return;
  if (uploading()) { byId("composer-error").textContent = "Wait for the uploads to finish."; return; }
  if (anyFailed()) { byId("composer-error").textContent = "Remove the attachments that failed first."; return; }
  if (editing) { saveEdit(text); return; }
  const media = mediaIds();
  if (!text && !media.length) return;
  const txnId = uuid();
  const quoted = replyTo;
  const replyId = quoted?.id;
  clearBanner();
  composer.value = "";
  autoGrow(composer);
  stopTyping();
  byId("composer-error").textContent = "";
  try {
    let message;
    if (media.length) {
      // The socket's `send` action takes text only: messages with attachments go by REST.
      message = await api.send(id, text, txnId, media, replyId);
      clearAttachments();
    } else {
      try {
        message = (await state.stream.action("send", {
          conversation_id: id, text, txn_id: txnId, ...(replyId ? { reply_to: replyId } : {}),
        })).message;
      } catch (err) {
        if (err.status !== 0) throw err;
        message = await api.send(id, text, txnId, undefined, replyId);
      }
    }
    noteMessage(message);
  } catch (err) {
    if (quoted && state.openId === id && !replyTo && !editing) startReply(quoted);
    if (!composer.value) composer.value = text;
    autoGrow(composer);
    byId("composer-error").textContent = err.message;
  }
}

/**
 * Record a message (sent, or from an event) in the inbox cache and the open pane.
 * @returns {boolean} whether it was new to the open pane
 */
export function noteMessage(msg) {
  const conv = state.convs.get(msg.conversation_id);
  const known = state.messages.has(msg.id);
  if (conv && (conv.last_activity_position || 0) <= msg.position) {
    if ((conv.last_activity_position || 0) < msg.position) { conv.archived = false; conv.hidden = false; }
    conv.last_message = msg;
    conv.last_message_at = msg.created_at;
    conv.last_activity_position = msg.position;
  }
  if (msg.sender?.id === state.me.id && conv) {
    conv.read_position = Math.max(conv.read_position || 0, msg.position);
  }
  placeMessage(msg);
  renderInbox();
  return !known;
}

/** Mark the open conversation read up to its newest message, if the page is visible. */
export async function markRead() {
  const conv = state.convs.get(state.openId);
  if (!conv || document.visibilityState !== "visible") return;
  const newest = [...state.messages.values()].reduce((a, m) => (!a || m.position > a.position ? m : a), null);
  if (!newest || newest.position <= Math.max(conv.read_position || 0, readInFlight)) {
    if (conv.unread_count && newest && newest.position <= (conv.read_position || 0)) {
      conv.unread_count = 0;
      renderInbox();
    }
    return;
  }
  readInFlight = newest.position;
  try {
    let position;
    try {
      position = (await state.stream.action("read", { conversation_id: conv.id, up_to: newest.id })).read_position;
    } catch (err) {
      if (err.status !== 0) throw err;
      position = (await api.markRead(conv.id, newest.id)).read_position;
    }
    conv.read_position = Math.max(conv.read_position || 0, position);
    if (conv.read_position >= (conv.last_activity_position || 0)) conv.unread_count = 0;
    renderInbox();
  } catch {
    // Not fatal: the next message or focus tries again.
  } finally {
    readInFlight = 0;
  }
}

function typingChanged() {
  const composer = byId("composer");
  if (!composer.value.trim()) { stopTyping(); return; }
  const now = Date.now();
  if (now - lastTypingSent < TYPING_REFRESH_MS || !state.stream?.connected || !state.openId) return;
  lastTypingSent = now;
  state.stream.action("typing", { conversation_id: state.openId, active: true }).catch(() => {});
}

function stopTyping() {
  if (!lastTypingSent) return;
  lastTypingSent = 0;
  if (state.stream?.connected && state.openId) {
    state.stream.action("typing", { conversation_id: state.openId, active: false }).catch(() => {});
  }
}

/**
 * Apply a `typing` frame (or clear someone whose message arrived).
 * @param {string} conversationId @param {string} handle @param {boolean} active
 * @param {number} [expiresMs]
 */
export function setTyping(conversationId, handle, active, expiresMs = 5000) {
  let users = state.typing.get(conversationId);
  if (!users) { users = new Map(); state.typing.set(conversationId, users); }
  clearTimeout(users.get(handle));
  users.delete(handle);
  if (active) {
    users.set(handle, setTimeout(() => setTyping(conversationId, handle, false), expiresMs || 5000));
  }
  if (conversationId === state.openId) renderTyping();
}

function renderTyping() {
  const users = [...(state.typing.get(state.openId)?.keys() || [])];
  const el = byId("typing");
  if (!users.length) el.textContent = "";
  else if (users.length === 1) el.textContent = `${users[0]} is typing…`;
  else el.textContent = `${users.slice(0, -1).join(", ")} and ${users.at(-1)} are typing…`;
}

async function accept() {
  const id = state.openId;
  try {
    upsertConv(await api.accept(id));
    renderHeader();
    renderInbox();
    byId("composer").focus();
  } catch (err) {
    byId("composer-error").textContent = err.message;
  }
}

async function decline(block) {
  const id = state.openId;
  try {
    await api.decline(id, block);
    state.convs.delete(id);
    closeConversation();
  } catch (err) {
    byId("composer-error").textContent = err.message;
  }
}

async function unsend(msg) {
  try {
    placeMessage(await api.unsend(msg.conversation_id, msg.id));
  } catch (err) {
    byId("composer-error").textContent = err.message;
  }
}

/** Add my `emoji` to a message, or take it back (`remove`); the focus stays on the message. */
async function react(msg, emoji, remove) {
  try {
    const updated = remove ? await api.unreact(msg.conversation_id, msg.id, emoji)
      : await api.react(msg.conversation_id, msg.id, emoji);
    keepFocus(msg.id, () => placeMessage(updated));
  } catch (err) {
    byId("composer-error").textContent = err.message;
  }
}

async function removePreview(msg) {
  try {
    await api.removePreview(msg.conversation_id, msg.id);
    patchMessage(msg.id, (m) => { m.preview = null; });
  } catch (err) {
    byId("composer-error").textContent = err.message;
  }
}

/**
 * Send a message that is not typed (a voice note, a location) by REST, as a reply when one
 * is being written there. Rejects with the ApiError; the caller shows it.
 * @param {string} conversationId
 * @param {{media?: string[], location?: {latitude: number, longitude: number}}} fields
 */
async function sendFields(conversationId, fields) {
  const quoted = state.openId === conversationId ? replyTo : null;
  const message = await api.send(conversationId, "", uuid(), fields.media, quoted?.id, fields.location);
  if (quoted && replyTo === quoted) clearBanner();
  noteMessage(message);
}

/**
 * A business's suggested reply tapped: it is sent as the person's own message, its label as
 * the text (so any client, and the business's bot, understands it).
 * @param {any} msg the message that offered it @param {string} label
 */
async function quickReply(msg, label) {
  byId("composer-error").textContent = "";
  try {
    noteMessage(await api.send(msg.conversation_id, label, uuid()));
  } catch (err) {
    byId("composer-error").textContent = err.message;
  }
}

/** Close the composer's emoji picker, location bar and recorder (the conversation changed). */
function resetTools() {
  closeEmoji();
  cancelLocation();
  cancelVoice();
}

function isNearBottom() {
  const s = byId("scroller");
  return s.scrollHeight - s.scrollTop - s.clientHeight < 80;
}

function scrollToBottom() {
  const s = byId("scroller");
  s.scrollTop = s.scrollHeight;
}

function autoGrow(textarea) {
  textarea.style.height = "auto";
  textarea.style.height = `${Math.min(textarea.scrollHeight, 160)}px`;
}

/** Show the banner above the composer (replying to, or editing, `msg`). */
function showBanner(label, msg) {
  byId("reply-label").textContent = label;
  byId("reply-text").textContent = msg.text || (msg.media?.length ? "Attachment" : "");
  byId("reply-banner").hidden = false;
}

/** Leave reply or edit mode. */
function clearBanner() {
  const wasEditing = !!editing;
  replyTo = null;
  editing = null;
  byId("reply-banner").hidden = true;
  byId("reply-banner").classList.remove("editing");
  byId("send").textContent = "Send";
  if (wasEditing) {
    const composer = byId("composer");
    composer.value = "";
    autoGrow(composer);
  }
}

function startReply(msg) {
  clearBanner();
  replyTo = msg;
  showBanner(`Replying to ${msg.sender?.id === state.me.id ? "yourself" : nameOf(msg.sender)}`, msg);
  byId("composer").focus();
}

function startEdit(msg) {
  clearBanner();
  editing = msg;
  showBanner("Editing message", msg);
  byId("reply-banner").classList.add("editing");
  byId("send").textContent = "Save";
  const composer = byId("composer");
  composer.value = msg.text || "";
  autoGrow(composer);
  composer.focus();
  composer.setSelectionRange(composer.value.length, composer.value.length);
}

async function saveEdit(text) {
  const msg = editing;
  if (!text) { byId("composer-error").textContent = "A message can't be empty: unsend it instead."; return; }
  if (text === msg.text) { clearBanner(); return; }
  byId("composer-error").textContent = "";
  try {
    const updated = await api.editMessage(msg.conversation_id, msg.id, text);
    if (editing === msg) clearBanner();
    const known = state.messages.get(updated.id);
    if (known) patchMessage(updated.id, (m) => { m.text = updated.text; m.edited_at = updated.edited_at; });
    const last = state.convs.get(updated.conversation_id)?.last_message;
    if (last?.id === updated.id && last !== known) { last.text = updated.text; last.edited_at = updated.edited_at; }
    renderInbox();
  } catch (err) {
    byId("composer-error").textContent = err.message;
  }
}

async function deleteForMe(msg) {
  try {
    await api.deleteForMe(msg.conversation_id, msg.id);
    removeMessage(msg.id);
    const conv = state.convs.get(msg.conversation_id);
    if (conv?.last_message?.id === msg.id) {
      const rest = [...state.messages.values()].filter((m) => m.conversation_id === conv.id);
      conv.last_message = rest.reduce((a, m) => (!a || m.position > a.position ? m : a), null);
      renderInbox();
    }
    renderSeen();
  } catch (err) {
    byId("composer-error").textContent = err.message;
  }
}

