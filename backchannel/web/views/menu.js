/**
 * The conversation menu (`#conversation-menu` → `#conversation-actions`): pin, mute, archive,
 * move between folders, group settings, report, block, leave a group.
 */

import { api } from "../api.js";
import { byId } from "../dom.js";
import { state, upsertConv } from "../state.js";
import { closeConversation, renderHeader } from "./conversation.js";
import { closeForward } from "./forward.js";
import { canSetTimer } from "./disappearing.js";
import { openGroupSettings } from "./group.js";
import { renderInbox } from "./inbox.js";
import { otherMember } from "./presence.js";
import { blockOther, reportConversation } from "./report.js";

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

export function initMenu() {
  const button = byId("conversation-menu");
  button.addEventListener("click", (e) => {
    e.stopPropagation();
    if (byId("conversation-actions").hidden) openMenu(); else closeMenu();
  });
  for (const [id, changes] of Object.entries(MENU_CHANGES)) {
    byId(id).addEventListener("click", () => changeMembership(changes));
  }
  byId("leave-group").addEventListener("click", leaveGroup);
  const withConv = (fn) => () => { closeMenu(); const conv = state.convs.get(state.openId); if (conv) fn(conv); };
  byId("action-group-settings").addEventListener("click", withConv((conv) => openGroupSettings(conv.id)));
  byId("action-report").addEventListener("click", withConv(reportConversation));
  byId("action-block").addEventListener("click", withConv((conv) => blockOther(conv, async () => {
    try { upsertConv(await api.conversation(conv.id)); } catch { return; }
    renderInbox();
    if (state.openId === conv.id) renderHeader();
  })));
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

export function closeMenu() {
  byId("conversation-actions").hidden = true;
  byId("conversation-menu").setAttribute("aria-expanded", "false");
}

/** Show only the menu items that apply to `conv`. */
export function renderMenu(conv) {
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
    "action-group-settings": conv.kind === "group",
    "action-disappearing": canSetTimer(conv),
    "action-report": (conv.members || []).some((m) => m.id !== state.me.id),
    "action-block": conv.kind === "direct" && !conv.request && !!otherMember(conv),
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
