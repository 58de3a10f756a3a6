/**
 * The conversation pane: header, request bar, message list, composer, typing indicator,
 * read markers. Messages of the open conversation live in `state.messages`.
 */

import { api, uuid } from "../api.js";
import { byId, h } from "../dom.js";
import { conversationTitle, initial, messageItem, nameOf } from "../render.js";
import { state, upsertConv } from "../state.js";
import { anyFailed, clearAttachments, initAttachments, mediaIds, uploading } from "./attachments.js";
import { renderInbox } from "./inbox.js";

const TYPING_REFRESH_MS = 3000;
let lastTypingSent = 0;
let readInFlight = 0;
const actions = {
  onUnsend: unsend, onReact: react, onReply: startReply, onEdit: startEdit,
  onForward: openForward, onDeleteForMe: deleteForMe,
};
/** The message being replied to, or being edited (one at a time). */
let replyTo = null;
let editing = null;

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
  byId("load-older").addEventListener("click", loadOlder);
  byId("request-accept").addEventListener("click", accept);
  byId("request-delete").addEventListener("click", () => decline(false));
  byId("request-block").addEventListener("click", () => decline(true));
  byId("reply-cancel").addEventListener("click", () => { clearBanner(); byId("composer").focus(); });
  composer.addEventListener("keydown", (e) => { if (e.key === "Escape" && (replyTo || editing)) clearBanner(); });
  byId("forward-cancel").addEventListener("click", closeForward);
  initMenu();
  document.addEventListener("visibilitychange", markRead);
  window.addEventListener("focus", markRead);
}

/** Open a conversation: show the pane, load its newest page, mark it read. */
export async function openConversation(id) {
  if (state.openId !== id) { stopTyping(); clearAttachments(); clearBanner(); closeForward(); closeMenu(); }
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
  try {
    const page = await api.history(id);
    if (state.openId !== id) return;
    for (const m of page.items) state.messages.set(m.id, m);
    state.olderCursor = page.before_cursor;
    renderMessages();
    scrollToBottom();
    markRead();
  } catch (err) {
    if (state.openId === id) byId("composer-error").textContent = err.message;
  }
  byId("composer").focus();
}

/** Close the pane (the back button on narrow screens). */
export function closeConversation() {
  stopTyping();
  clearAttachments();
  clearBanner();
  closeForward();
  closeMenu();
  const id = state.openId;
  state.openId = null;
  state.messages.clear();
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
  byId("conversation-subtitle").textContent = subtitle;
  renderMenu(conv);
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
  byId("messages").replaceChildren(...sorted.map((m) => messageItem(m, state.me, conv, actions)));
  byId("load-older").hidden = !state.olderCursor;
  renderSeen();
}

/**
 * Insert or replace one message of the open conversation, keeping position order.
 * @param {any} msg
 */
export function placeMessage(msg) {
  if (msg.conversation_id !== state.openId) return;
  state.messages.set(msg.id, msg);
  const list = byId("messages");
  const conv = state.convs.get(state.openId) || { kind: "direct" };
  const li = messageItem(msg, state.me, conv, actions);
  li.dataset.position = String(msg.position);
  const old = list.querySelector(`li.message[data-id="${CSS.escape(msg.id)}"]`);
  if (old) { old.replaceWith(li); renderSeen(); return; }
  const nearBottom = isNearBottom();
  const after = [...list.children].find((el) => Number(state.messages.get(el.dataset.id)?.position) > msg.position);
  list.insertBefore(li, after || null);
  renderSeen();
  if (nearBottom || msg.sender?.id === state.me.id) scrollToBottom();
}

/** The open conversation's other member, for a direct conversation (else null). */
function otherMember(conv) {
  if (!conv || conv.kind !== "direct") return null;
  return (conv.members || []).find((m) => m.id !== state.me.id && m.handle) || null;
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

/** Fetch the presence of the open direct conversation's other member. */
export async function fetchPresence() {
  const other = otherMember(state.convs.get(state.openId));
  renderPresence();
  if (!other) return;
  try {
    const reply = await api.presence([other.handle]);
    for (const p of reply.items || []) state.presence.set(p.user, p);
    renderPresence();
  } catch { /* presence is best effort */ }
}

/** Apply a `presence` frame. */
export function setPresence(frame) {
  if (!frame.user) return;
  state.presence.set(String(frame.user).toLowerCase(), frame);
  renderPresence();
}

/** @param {any} p @returns {string} "Active now", "Active 5 min ago", or "" */
export function presenceText(p) {
  if (!p) return "";
  if (p.active) return "Active now";
  if (!p.last_active_at) return "";
  const minutes = Math.floor((Date.now() - new Date(p.last_active_at).getTime()) / 60000);
  if (!Number.isFinite(minutes)) return "";
  if (minutes < 1) return "Active just now";
  if (minutes < 60) return `Active ${minutes} min ago`;
  if (minutes < 24 * 60) return `Active ${Math.floor(minutes / 60)} h ago`;
  const days = Math.floor(minutes / (24 * 60));
  return days < 7 ? `Active ${days} d ago` : "";
}

function renderPresence() {
  const el = byId("presence");
  const other = otherMember(state.convs.get(state.openId));
  const conv = state.convs.get(state.openId);
  const text = other && !conv?.request && !conv?.awaiting_acceptance
    ? presenceText(state.presence.get(other.handle.toLowerCase())) : "";
  el.textContent = text;
  el.hidden = !text;
  el.classList.toggle("active", text === "Active now");
}

setInterval(() => { if (state.openId) renderPresence(); }, 30000);

/**
 * Change a loaded message in place (events: edited, unsent, reactions).
 * @param {string} messageId @param {(m: any) => void} change
 */
export function patchMessage(messageId, change) {
  const msg = state.messages.get(messageId);
  if (!msg) return;
  change(msg);
  placeMessage(msg);
}

/** Remove a message from view (deleted for me on another device). */
export function removeMessage(messageId) {
  if (replyTo?.id === messageId || editing?.id === messageId) clearBanner();
  state.messages.delete(messageId);
  document.querySelector(`li.message[data-id="${CSS.escape(messageId)}"]`)?.remove();
}

async function loadOlder() {
  const id = state.openId;
  if (!id || !state.olderCursor) return;
  const scroller = byId("scroller");
  const fromBottom = scroller.scrollHeight - scroller.scrollTop;
  try {
    const page = await api.history(id, state.olderCursor);
    if (state.openId !== id) return;
    for (const m of page.items) state.messages.set(m.id, m);
    state.olderCursor = page.before_cursor;
    renderMessages();
    scroller.scrollTop = scroller.scrollHeight - fromBottom;
  } catch (err) {
    byId("composer-error").textContent = err.message;
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

async function react(msg, remove) {
  try {
    const updated = remove ? await api.unreact(msg.conversation_id, msg.id, "❤️")
      : await api.react(msg.conversation_id, msg.id, "❤️");
    placeMessage(updated);
  } catch (err) {
    byId("composer-error").textContent = err.message;
  }
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

/** The conversations a message can be forwarded to: accepted ones of mine. */
function forwardTargets() {
  return [...state.convs.values()]
    .filter((c) => (c.folder === "primary" || c.folder === "general") && !c.awaiting_acceptance)
    .sort((a, b) => (b.last_activity_position || 0) - (a.last_activity_position || 0));
}

function openForward(msg) {
  closeMenu();
  const list = byId("forward-list");
  const targets = forwardTargets();
  list.replaceChildren(...targets.map((c) => h("li", {},
    h("button", { type: "button", class: "forward-target", dataset: { id: c.id },
      text: conversationTitle(c, state.me), on: { click: () => forward(msg, c.id) } }))));
  if (!targets.length) list.append(h("li", { class: "status", text: "No conversations to forward to." }));
  byId("forward-picker").hidden = false;
  list.querySelector("button")?.focus();
}

function closeForward() {
  byId("forward-picker").hidden = true;
  byId("forward-list").replaceChildren();
}

async function forward(msg, targetId) {
  closeForward();
  try {
    const reply = await api.forward(msg.conversation_id, msg.id, [targetId]);
    for (const m of reply.items || []) {
      if (state.convs.has(m.conversation_id)) noteMessage(m);
    }
    byId("composer-error").textContent = "";
  } catch (err) {
    byId("composer-error").textContent = err.message;
  }
}

/* The conversation menu: pin, mute, archive, move between folders, leave a group. */

const MENU_CHANGES = {
  "action-pin": { pinned: true },
  "action-unpin": { pinned: false },
  "action-mute": { muted: true, muted_until: null },
  "action-unmute": { muted: false },
  "action-archive": { archived: true },
  "action-unarchive": { archived: false },
  "action-move-general": { folder: "general" },
  "action-move-primary": { folder: "primary" },
};

function initMenu() {
  const button = byId("conversation-menu");
  button.addEventListener("click", (e) => {
    e.stopPropagation();
    if (byId("conversation-actions").hidden) openMenu(); else closeMenu();
  });
  for (const [id, changes] of Object.entries(MENU_CHANGES)) {
    byId(id).addEventListener("click", () => changeMembership(changes));
  }
  byId("leave-group").addEventListener("click", leaveGroup);
  document.addEventListener("click", (e) => {
    if (!byId("conversation-actions").hidden && !e.target.closest?.(".menu-wrap")) closeMenu();
  });
  document.addEventListener("keydown", (e) => {
    if (e.key !== "Escape") return;
    if (!byId("conversation-actions").hidden) { closeMenu(); button.focus(); }
    if (!byId("forward-picker").hidden) closeForward();
  });
}

function openMenu() {
  const conv = state.convs.get(state.openId);
  if (!conv) return;
  renderMenu(conv);
  byId("conversation-actions").hidden = false;
  byId("conversation-menu").setAttribute("aria-expanded", "true");
}

function closeMenu() {
  byId("conversation-actions").hidden = true;
  byId("conversation-menu").setAttribute("aria-expanded", "false");
}

/** Show only the menu items that apply to `conv`. */
function renderMenu(conv) {
  const accepted = conv.folder === "primary" || conv.folder === "general";
  const show = {
    "action-pin": accepted && !conv.pinned,
    "action-unpin": accepted && !!conv.pinned,
    "action-mute": accepted && !conv.muted,
    "action-unmute": accepted && !!conv.muted,
    "action-archive": accepted && !conv.archived,
    "action-unarchive": accepted && !!conv.archived,
    "action-move-general": conv.folder === "primary",
    "action-move-primary": conv.folder === "general",
    "leave-group": conv.kind === "group",
  };
  for (const [id, visible] of Object.entries(show)) byId(id).hidden = !visible;
  byId("conversation-menu").hidden = !Object.values(show).some(Boolean);
}

async function changeMembership(changes) {
  const id = state.openId;
  closeMenu();
  if (!id) return;
  try {
    upsertConv(await api.patchMembership(id, changes));
    renderInbox();
    if (state.openId === id) renderHeader();
  } catch (err) {
    byId("composer-error").textContent = err.message;
  }
}

async function leaveGroup() {
  const id = state.openId;
  closeMenu();
  if (!id) return;
  try {
    await api.removeMember(id, state.me.handle);
    state.convs.delete(id);
    if (state.openId === id) closeConversation();
    renderInbox();
  } catch (err) {
    byId("composer-error").textContent = err.message;
  }
}
