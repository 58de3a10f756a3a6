/**
 * Entry point: restore the session, boot the app, and turn stream events into state.
 * Start-up order (docs/api.md#sync): take a position first, then fetch, then stream from it;
 * events repeating what the fetch showed are applied idempotently.
 */

import { api, clearSession, getToken, getUser, onUnauthorized, saveSession } from "./api.js";
import { byId } from "./dom.js";
import { initViewer } from "./media.js";
import { nameOf } from "./render.js";
import { resetState, state, upsertConv } from "./state.js";
import { Stream } from "./stream.js";
import { initAuth, showAuth } from "./views/auth.js";
import { teamPresence } from "./views/business-presence.js";
import { businessEvent, claimConversation, initBusiness, reloadBusiness, stopBusiness } from "./views/business.js";
import {
  applyReceipt, closeConversation, fetchPresence, initConversation, markRead, noteMessage, openConversation, patchMessage,
  removeMessage, renderHeader, setPresence, setTyping,
} from "./views/conversation.js";
import { scheduledUpdated } from "./views/later.js";
import { initInbox, loadFolder, renderInbox, selectFolder } from "./views/inbox.js";
import { notifyMessage, renderUnread } from "./views/notify.js";
import { initSettings } from "./views/settings.js";
import { initSearch } from "./views/search.js";
import { exportUpdated, initExports } from "./views/exports.js";
import { initAccountDelete } from "./views/account-delete.js";

async function boot() {
  initAuth((user) => startApp(user));
  initInbox((id) => openConversation(id));
  initSearch((id) => openConversation(id));
  initConversation();
  initViewer();
  initBusiness();
  initSettings({
    onProfile: (me) => { byId("me-name").textContent = nameOf(me); },
    onSettings: (_settings, changes) => {
      // Receipts and activity status are reciprocal: what we may see changed with them.
      if (state.openId && ("read_receipts" in changes || "activity_status" in changes)) {
        refreshConv(state.openId);
        fetchPresence();
      }
    },
  });
  initExports();
  initAccountDelete(() => {
    clearSession();
    stopApp();
    byId("auth-error").textContent = "Your account was deleted.";
  });
  byId("logout").addEventListener("click", logout);
  // A REST call refused for the token (this device was logged out elsewhere): sign in again.
  onUnauthorized(() => { if (state.me) { clearSession(); stopApp(); } });
  if (!getToken()) { showAuth(); return; }
  try {
    const me = await api.me();
    saveSession(getToken(), me);
    startApp(me);
  } catch (err) {
    if (err.status === 401) { clearSession(); showAuth(); return; }
    startApp(getUser()); // the server is unreachable for now: the stream keeps retrying
  }
}

/** Show the app for `user` and start syncing. */
async function startApp(user) {
  resetState();
  state.me = user;
  byId("auth-screen").hidden = true;
  byId("app").hidden = false;
  byId("me-name").textContent = nameOf(user);
  const stream = new Stream({
    token: getToken(),
    userId: user.id,
    onEvent,
    onFrame,
    onStatus: (connected) => {
      byId("app").classList.toggle("offline", !connected);
      if (connected && state.openId) fetchPresence(); // frames missed while away
    },
    onReset: refetchAll,
    onAuthFailed: () => { clearSession(); stopApp(); },
  });
  state.stream = stream;
  if (!stream.position) {
    try { stream.position = (await api.syncToken()).next; } catch { /* the stream takes "now" */ }
  }
  await refetchAll();
  stream.start();
  byId("new-handle").focus();
}

/** Fetch the inbox afresh (start-up, or after the stream position was refused). */
async function refetchAll() {
  const business = reloadBusiness(); // my teams first: they route the business's events
  await Promise.all(["primary", "general"].filter((f) => f !== state.folder).map(loadFolder));
  await selectFolder(state.folder);
  if (state.openId) openConversation(state.openId);
  await business;
}

async function logout() {
  try { await api.logout(); } catch { /* logged out locally all the same */ }
  clearSession();
  stopApp();
}

function stopApp() {
  for (const dialog of document.querySelectorAll("dialog[open]")) dialog.close();
  state.stream?.stop();
  stopBusiness();
  if (state.openId) closeConversation();
  resetState();
  byId("conversations").replaceChildren();
  renderUnread();
  showAuth();
}

/** Typing and presence frames (ephemeral, never replayed). */
function onFrame(frame) {
  if (frame.op === "typing") setTyping(frame.conversation_id, frame.user, frame.active, frame.expires_in_ms);
  else if (frame.op === "presence") setPresence(frame);
  else if (frame.op === "team_presence") teamPresence(frame);
}

/** Fetch one conversation into the cache (its events lack the per-viewer fields). */
async function refreshConv(id) {
  try {
    upsertConv(await api.conversation(id));
  } catch (err) {
    if (err.status === 404) { state.convs.delete(id); claimConversation(id); } // a business's, perhaps
  }
  renderInbox();
  if (id === state.openId) {
    if (state.convs.has(id)) renderHeader(); else closeConversation();
  }
}

/** Change a message in the open pane and in its conversation's preview. */
function changeMessage(conversationId, messageId, change) {
  if (conversationId === state.openId) patchMessage(messageId, change);
  const last = state.convs.get(conversationId)?.last_message;
  if (last?.id === messageId && last !== state.messages.get(messageId)) change(last);
  renderInbox();
}

function setReaction(d, add) {
  changeMessage(d.conversation_id, d.message_id, (m) => {
    const reactions = m.reactions || (m.reactions = []);
    let r = reactions.find((x) => x.emoji === d.emoji);
    if (add) {
      if (!r) { r = { emoji: d.emoji, users: [] }; reactions.push(r); }
      if (!r.users.includes(d.user)) r.users.push(d.user);
    } else if (r) {
      r.users = r.users.filter((u) => u !== d.user);
      if (!r.users.length) reactions.splice(reactions.indexOf(r), 1);
    }
  });
}

function messageCreated(msg) {
  const conv = state.convs.get(msg.conversation_id);
  if (msg.sender?.handle) setTyping(msg.conversation_id, msg.sender.handle, false);
  notifyMessage(msg);
  if (!conv) { refreshConv(msg.conversation_id); return; }
  // Activity brings an archived (or hidden) conversation back to its folder.
  if ((conv.archived || conv.hidden) && msg.position > (conv.last_activity_position || 0)) {
    conv.archived = false;
    conv.hidden = false;
  }
  const isNew = noteMessage(msg);
  const mine = msg.sender?.id === state.me.id;
  if (isNew && !mine && !msg.unsent && msg.position > (conv.read_position || 0)) {
    conv.unread_count = (conv.unread_count || 0) + 1;
    renderInbox();
  }
  if (msg.conversation_id === state.openId) markRead();
  // A reply to my request means it was accepted: fetch the conversation's state anew.
  if (isNew && !mine && conv.awaiting_acceptance) refreshConv(msg.conversation_id);
}

/** Apply one stream event to the state (idempotently: replays may repeat fetched state). */
function onEvent(ev) {
  if (businessEvent(ev)) return undefined; // a business's conversation, not mine (views/business.js)
  const d = ev.data;
  switch (ev.type) {
    case "message.created": return messageCreated(d.message);
    case "message.edited":
      return changeMessage(d.conversation_id, d.message_id, (m) => { m.text = d.text; m.edited_at = d.edited_at; });
    case "message.unsent":
      for (const m of state.messages.values()) {
        if (m.reply_to?.id === d.message_id) patchMessage(m.id, (x) => { x.reply_to.text = null; });
      }
      return changeMessage(d.conversation_id, d.message_id, (m) => {
        m.unsent = true; m.text = null; m.reactions = []; m.edited_at = null; m.preview = null;
      });
    case "message.preview":
      return changeMessage(d.conversation_id, d.message_id, (m) => { m.preview = d.preview || null; });
    case "message.hidden":
      removeMessage(d.message_id);
      return refreshConv(d.conversation_id);
    case "message.expired": // a disappearing message's time was up: it goes, quotes of it too
      for (const m of state.messages.values()) {
        if (m.reply_to?.id === d.message_id) patchMessage(m.id, (x) => { x.reply_to.text = null; });
      }
      removeMessage(d.message_id);
      return refreshConv(d.conversation_id);
    case "conversation.disappearing_updated": return refreshConv(d.conversation_id);
    case "scheduled.updated": return scheduledUpdated(d.scheduled);
    case "export.updated": return exportUpdated(d.export);
    case "reaction.added": return setReaction(d, true);
    case "reaction.removed": return setReaction(d, false);
    case "membership.updated": {
      if (!state.convs.has(d.conversation_id)) return refreshConv(d.conversation_id);
      const { conversation_id: id, ...view } = d;
      upsertConv({ id, ...view });
      renderInbox();
      if (id === state.openId) renderHeader();
      return undefined;
    }
    case "read.updated": {
      const conv = state.convs.get(d.conversation_id);
      if (!conv || d.read_position <= (conv.read_position || 0)) return undefined;
      conv.read_position = d.read_position;
      if (d.read_position >= (conv.last_activity_position || 0)) { conv.unread_count = 0; renderInbox(); return undefined; }
      return refreshConv(d.conversation_id);
    }
    case "receipt.updated": return applyReceipt(d);
    case "media.opened":
      for (const m of state.messages.values()) {
        const item = (m.media || []).find((x) => x.id === d.media_id);
        if (item) {
          patchMessage(m.id, () => {
            item.opened_by = [...new Set([...(item.opened_by || []), d.user])];
          });
        }
      }
      return undefined;
    case "member.left":
      if ((d.user?.id ?? null) === state.me.id || (d.user?.handle ?? d.user) === state.me.handle) {
        state.convs.delete(d.conversation_id);
        if (d.conversation_id === state.openId) closeConversation();
        return renderInbox();
      }
      return refreshConv(d.conversation_id);
    case "conversation.created":
    case "member.joined":
      return refreshConv(d.conversation.id);
    case "conversation.updated":
    case "member.role_changed":
      return refreshConv(d.conversation_id);
    default:
      return undefined;
  }
}

boot();
