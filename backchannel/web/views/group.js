/**
 * The group settings dialog `#group-settings`, for the open group: its name (PATCH
 * /conversations/{id}, admins), its members and their roles, adding (POST .../members) and
 * removing (DELETE .../members/{handle}) people, both for admins, and leaving. The server
 * decides: the controls only hide what it would refuse, and its refusals are shown.
 * It re-renders from the cached conversation whenever the header does (events refresh it).
 */

import { api } from "../api.js";
import { byId, h } from "../dom.js";
import { conversationTitle, nameOf } from "../render.js";
import { state, upsertConv } from "../state.js";
import { closeConversation, renderHeader } from "./conversation.js";
import { renderInbox } from "./inbox.js";
import { confirmAction } from "./report.js";

/** The conversation the dialog shows (the open one when it was opened). */
let groupId = null;
let wired = false;

function wire() {
  if (wired) return;
  wired = true;
  const dialog = byId("group-settings");
  byId("group-settings-close").addEventListener("click", () => dialog.close());
  dialog.addEventListener("click", (e) => { if (e.target === dialog) dialog.close(); });
  dialog.addEventListener("close", () => {
    groupId = null;
    const menu = byId("conversation-menu");
    if (menu.offsetParent !== null) menu.focus();
  });
  byId("group-title-form").addEventListener("submit", (e) => { e.preventDefault(); rename(); });
  byId("group-add-form").addEventListener("submit", (e) => { e.preventDefault(); addMembers(); });
  byId("group-leave").addEventListener("click", leave);
}

/** Open the dialog for a group, and fetch its members afresh. */
export async function openGroupSettings(id) {
  wire();
  const conv = state.convs.get(id);
  if (!conv || conv.kind !== "group") return;
  groupId = id;
  say("");
  byId("group-title").value = conv.title || "";
  byId("group-add-handles").value = "";
  const dialog = byId("group-settings");
  renderGroupSettings();
  if (!dialog.open) dialog.showModal();
  (conv.role === "admin" ? byId("group-title") : byId("group-settings-close")).focus();
  try {
    upsertConv(await api.conversation(id));
    renderGroupSettings();
  } catch (err) {
    say(err.message, true);
  }
}

/** Re-render the dialog, if open, from the cache; close it once the group is gone or closed. */
export function renderGroupSettings() {
  const dialog = byId("group-settings");
  if (!dialog.open || !groupId) return;
  const conv = state.convs.get(groupId);
  if (!conv || state.openId !== groupId) { dialog.close(); return; }
  const admin = conv.role === "admin";
  const title = byId("group-title");
  if (document.activeElement !== title) title.value = conv.title || "";
  title.readOnly = !admin;
  title.placeholder = conversationTitle({ ...conv, title: null }, state.me);
  byId("group-title-hint").hidden = admin;
  byId("group-title-save").hidden = !admin;
  byId("group-add-form").hidden = !admin;
  const members = [...(conv.members || [])].sort((a, b) => Number(b.role === "admin") - Number(a.role === "admin")
    || nameOf(a).localeCompare(nameOf(b)));
  byId("group-members-title").textContent = `Members (${conv.member_count ?? members.length})`;
  byId("group-members").replaceChildren(...members.map((m) => memberRow(conv, m, admin)));
}

function memberRow(conv, member, admin) {
  const me = member.id === state.me.id;
  const label = `${nameOf(member)}${me ? " (you)" : ""}`;
  const li = h("li", { class: "member", dataset: { handle: member.handle || "" } },
    h("span", { class: "member-main" },
      h("span", { class: "member-name", text: label }),
      member.handle ? h("span", { class: "member-handle hint", text: `@${member.handle}` }) : null),
    member.role === "admin" ? h("span", { class: "role", text: "Admin" }) : null);
  if (admin && !me && member.handle) {
    li.append(h("button", { type: "button", class: "member-remove danger", text: "Remove",
      attrs: { "aria-label": `Remove ${nameOf(member)} from the group` },
      on: { click: () => removeMember(conv, member) } }));
  }
  return li;
}

function say(text, error = false) {
  const status = byId("group-status");
  status.textContent = text;
  status.classList.toggle("error", error);
}

/** After a change: the server's view of the group into the cache, and everywhere shown. */
function took(view) {
  upsertConv(view);
  renderInbox();
  renderHeader();
  renderGroupSettings();
}

async function rename() {
  const id = groupId;
  const button = byId("group-title-save");
  button.disabled = true;
  say("Saving…");
  try {
    took(await api.rename(id, byId("group-title").value.trim() || null));
    say("Saved");
  } catch (err) {
    say(err.message, true);
  } finally {
    button.disabled = false;
  }
}

async function addMembers() {
  const id = groupId;
  const input = byId("group-add-handles");
  const handles = [...new Set(input.value.split(/[\s,]+/).map((x) => x.trim().replace(/^@/, "")).filter(Boolean))];
  if (!handles.length) { say("Type the handles to add.", true); input.focus(); return; }
  byId("group-add").disabled = true;
  say("Adding…");
  try {
    took(await api.addMembers(id, handles));
    input.value = "";
    say(handles.length === 1 ? `Added @${handles[0]}.` : `Added ${handles.length} people.`);
  } catch (err) {
    say(err.message, true);
  } finally {
    byId("group-add").disabled = false;
    input.focus();
  }
}

async function removeMember(conv, member) {
  const id = conv.id;
  const ok = await confirmAction({
    title: `Remove ${nameOf(member)}?`,
    text: `@${member.handle} leaves the group and stops getting its messages. You can add them again later.`,
    confirmLabel: "Remove",
    action: () => api.removeMember(id, member.handle),
  });
  if (!ok) return;
  say(`Removed @${member.handle}.`);
  try { took(await api.conversation(id)); } catch { /* the member.left event refreshes it */ }
}

async function leave() {
  const id = groupId;
  const conv = state.convs.get(id);
  if (!conv) return;
  await confirmAction({
    title: `Leave ${conversationTitle(conv, state.me)}?`,
    text: "You stop getting its messages, and only an admin can add you back.",
    confirmLabel: "Leave group",
    action: async () => {
      await api.removeMember(id, state.me.handle);
      state.convs.delete(id);
      byId("group-settings").close();
      if (state.openId === id) closeConversation();
      renderInbox();
    },
  });
}
