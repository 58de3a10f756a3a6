/**
 * The business view: the switcher between "My messages" and each business whose team I am
 * on (GET /me/businesses), the team inbox with its filters, the team's stream events (and
 * the conversation events of the business's conversations, which are not mine), mention
 * notices, and "Turn this account into a business" in Settings.
 *
 * app.js hands every stream event to `businessEvent` first; it answers true for the events
 * the personal view must not see (a business's conversation is not the teammate's own).
 */

import { api } from "../api.js";
import { byId, h } from "../dom.js";
import { initial, longTime, nameOf, shortTime } from "../render.js";
import { state } from "../state.js";
import {
  closeTeamConversation, initBusinessConversation, labelChip, openTeamConversation, patchTeamMessage, renderAgent,
  renderAssignees, renderOpen, teamMessage, teamNote,
} from "./business-conversation.js";
import {
  PRIORITY_TEXT, ROLE_TEXT, STATUS_TEXT, alsoPersonal, biz, can, customerName, matches, membership, resetBusiness,
  waitingText,
} from "./business-state.js";
import { initTeam, renderTeam } from "./business-team.js";
import { forgetReplies } from "./business-composer.js";
import { initContact } from "./business-contact.js";
import { initSettings } from "./business-settings.js";
import { initReports } from "./business-reports.js";
import { initPresence } from "./business-presence.js";
import { initViews, resetViews } from "./business-views.js";
import { approvalEvent, initApprovals, renderApprovalsButton, resetApprovals } from "./business-approvals.js";
import { initRules, renderRulesButton } from "./business-rules.js";
import { initBot } from "./business-bot.js";
import { broadcastEvent, initBroadcasts, renderBroadcastsButton, scheduledEvent } from "./business-outbound.js";
import { initIntegrations, renderIntegrationsButton, webhookDisabled } from "./business-integrations.js";
import { initAssignment, renderAssignmentButton } from "./business-assignment.js";
import { closeConversation } from "./conversation.js";
import { renderInbox } from "./inbox.js";

const TICK_MS = 30_000;
let loadError = "";
/** Conversations being fetched one by one (an event named one not yet listed, or news of
 * one while a page was on its way): id → whether news came meanwhile (fetch it again). */
const fetching = new Map();
/** Conversations that changed while a page of the inbox was being fetched (null: none is). */
let changedDuringLoad = null;

export function initBusiness() {
  byId("workspace").addEventListener("change", (e) => showWorkspace(e.target.value || null));
  for (const tab of document.querySelectorAll(".business-tabs [data-status]")) {
    tab.addEventListener("click", () => setFilter({ status: tab.dataset.status }));
  }
  byId("business-filter-assignee").addEventListener("change", (e) => setFilter({ assignee: e.target.value }));
  byId("business-filter-label").addEventListener("change", (e) => setFilter({ label: e.target.value }));
  byId("business-filter-priority").addEventListener("change", (e) => setFilter({ priority: e.target.value }));
  byId("business-filter-unread").addEventListener("change", (e) => setFilter({ unread: e.target.checked }));
  byId("business-more").addEventListener("click", () => loadInbox(true));
  byId("settings-become-business").addEventListener("click", becomeBusiness);
  byId("settings-open").addEventListener("click", renderSettings);
  initBusinessConversation({ applyState, renderList: renderBusinessInbox });
  initTeam();
  initSettings();
  initReports();
  initContact((id) => openTeamConversation(id));
  initPresence();
  initViews(setFilter);
  initApprovals((id) => openTeamConversation(id));
  initRules();
  initBot();
  initBroadcasts();
  initIntegrations();
  initAssignment();
  setInterval(() => { if (biz.current) { renderBusinessInbox(); renderOpen(); } }, TICK_MS);
}

/** (Re)load my teams and, when a business is shown, its inbox (start-up, a stream reset). */
export async function reloadBusiness() {
  await loadMemberships();
  if (biz.current) {
    biz.items.clear();
    await Promise.all([loadTeam(), loadLabels(), loadInbox()]);
    if (biz.openId) openTeamConversation(biz.openId);
  }
}

/** Logging out: back to "My messages", everything forgotten. */
export function stopBusiness() {
  if (biz.current) leaveBusinessMode();
  resetBusiness();
  byId("business-conversations").replaceChildren();
  byId("business-notices").replaceChildren();
  renderSwitcher();
}

async function loadMemberships() {
  const before = membership()?.role;
  try {
    biz.memberships = (await api.myBusinesses()).items || [];
  } catch {
    return; // offline: keep what we had
  }
  renderSwitcher();
  if (biz.current && !membership()) {
    notice(`You are no longer on ${biz.current}'s team.`);
    await showWorkspace(null);
  } else if (biz.current) {
    renderHead();
    // A new role brings other controls: build the open conversation's panel again.
    if (biz.openId && membership().role !== before) openTeamConversation(biz.openId);
  }
}

function renderSwitcher() {
  byId("workspace-bar").hidden = biz.memberships.length === 0;
  byId("workspace").replaceChildren(h("option", { value: "", text: "My messages" }),
    ...biz.memberships.map((m) => h("option", { value: m.business.handle, text: `${nameOf(m.business)} inbox` })));
  byId("workspace").value = biz.current || "";
}

function leaveBusinessMode() {
  closeTeamConversation();
  byId("app").classList.remove("business-mode");
  byId("business-inbox").hidden = true;
  byId("business-conversation").hidden = true;
}

/**
 * Show a business's team inbox, or (null) my own messages.
 * @param {string|null} handle
 */
export async function showWorkspace(handle) {
  if (handle === biz.current) return;
  if (biz.current) leaveBusinessMode();
  biz.current = handle;
  forgetReplies();
  biz.items.clear();
  biz.members = [];
  biz.labels = [];
  biz.nextCursor = null;
  resetViews();
  resetApprovals();
  byId("workspace").value = handle || "";
  if (!handle) { renderInbox(); return; }
  if (state.openId) { closeConversation(); byId("workspace").focus(); }
  byId("app").classList.add("business-mode");
  byId("business-inbox").hidden = false;
  byId("business-conversation").hidden = false;
  byId("bconv-empty-title").textContent = `${nameOf(membership().business)} inbox`;
  renderHead();
  renderBusinessInbox();
  await Promise.all([loadTeam(), loadLabels(), loadInbox()]);
}

function renderHead() {
  const m = membership();
  if (!m) return;
  byId("business-name").textContent = nameOf(m.business);
  byId("business-role").textContent = ROLE_TEXT[m.role] || m.role;
  byId("business-audit-open").hidden = !can("audit");
  byId("business-reports-open").hidden = !can("reports");
  renderApprovalsButton();
  renderRulesButton();
  renderBroadcastsButton();
  renderIntegrationsButton();
  renderAssignmentButton();
}

/* The inbox */

function setFilter(change) {
  Object.assign(biz.filters, change);
  for (const tab of document.querySelectorAll(".business-tabs [data-status]")) {
    tab.setAttribute("aria-pressed", String(tab.dataset.status === biz.filters.status));
  }
  biz.nextCursor = null;
  renderBusinessInbox();
  loadInbox();
}

async function loadInbox(more = false) {
  const handle = biz.current;
  const f = biz.filters;
  const query = {};
  if (f.status !== "all") query.status = f.status;
  if (f.assignee) query.assignee = f.assignee;
  if (f.label) query.label = f.label;
  if (f.priority) query.priority = f.priority;
  if (f.unread) query.unread = "true";
  if (f.view) query.view = f.view; // a saved view (business-views.js): the filters above agree with it
  if (more && biz.nextCursor) query.cursor = biz.nextCursor;
  // A page answers for the moment it was read: a conversation that changed while it was on
  // its way keeps what the events said and is fetched again, never set back by the page.
  const changed = changedDuringLoad || new Set();
  changedDuringLoad = changed;
  try {
    const page = await api.businessInbox(handle, query);
    if (changedDuringLoad === changed) changedDuringLoad = null;
    if (biz.current !== handle) return;
    for (const item of page.items) {
      const id = item.conversation.id;
      biz.owners.set(id, handle);
      if (!changed.has(id) || !biz.items.has(id)) biz.items.set(id, item);
      if (changed.has(id)) fetchItem(handle, id);
    }
    biz.nextCursor = page.next_cursor;
    loadError = "";
  } catch (err) {
    if (changedDuringLoad === changed) changedDuringLoad = null;
    loadError = err.message;
  }
  renderBusinessInbox();
}

async function loadTeam() {
  const handle = biz.current;
  try {
    const reply = await api.businessMembers(handle);
    if (biz.current === handle) biz.members = reply.items || [];
  } catch { /* the assignee choices stay as they were */ }
  renderAssignees();
  renderTeam();
}

async function loadLabels() {
  const handle = biz.current;
  try {
    const reply = await api.businessLabels(handle);
    if (biz.current === handle) biz.labels = reply.items || [];
  } catch { /* keep */ }
  renderLabelFilter();
  renderOpen();
}

function renderLabelFilter() {
  const select = byId("business-filter-label");
  const chosen = biz.filters.label;
  select.replaceChildren(h("option", { value: "", text: "Any label" }),
    ...biz.labels.map((l) => h("option", { value: l.id, text: l.name })));
  select.value = biz.labels.some((l) => l.id === chosen) ? chosen : "";
}

const sortAt = (item) => item.state.last_message_at || item.state.created_at || "";

/** Re-render the team inbox from the cache (the rows matching the filters, newest first). */
export function renderBusinessInbox() {
  if (!biz.current) return;
  const list = byId("business-conversations");
  const focused = list.contains(document.activeElement) ? document.activeElement.closest("li")?.dataset.id : null;
  const items = [...biz.items.values()].filter(matches).sort((a, b) => (sortAt(b) > sortAt(a) ? 1 : -1));
  list.replaceChildren(...items.map(row));
  if (focused) list.querySelector(`li[data-id="${CSS.escape(focused)}"] button`)?.focus();
  byId("business-more").hidden = !biz.nextCursor;
  byId("business-status").textContent = loadError || (items.length ? "" : "No conversations here.");
}

function preview(item) {
  const m = item.conversation.last_message;
  if (!m) return "No messages yet";
  const body = m.unsent ? "Message unsent" : m.text || (m.media?.length ? "Attachment" : m.kind === "location" ? "Location" : "");
  const own = membership()?.business;
  if (m.sender?.id !== own?.id) return body;
  const agent = biz.agents.get(m.id);
  return `${agent ? nameOf(agent) : nameOf(own)}: ${body}`;
}

function row(item) {
  const s = item.state;
  const c = item.conversation;
  const name = customerName(item);
  const unread = c.unread_count || 0;
  const active = c.id === biz.openId;
  const meta = h("span", { class: "row-meta" });
  if (biz.filters.status === "all") meta.append(h("span", { class: `status-chip status-${s.status}`, text: STATUS_TEXT[s.status] }));
  const waiting = waitingText(s.waiting_since);
  if (waiting) meta.append(h("span", { class: "waiting", text: waiting, title: `Since ${longTime(s.waiting_since)}` }));
  if (s.priority && s.priority !== "none") {
    meta.append(h("span", { class: `priority priority-${s.priority}`, text: PRIORITY_TEXT[s.priority] }));
  }
  for (const label of s.labels || []) meta.append(labelChip(label));
  if (s.assignee) {
    meta.append(h("span", { class: "assignee", title: `Assigned to ${nameOf(s.assignee)}` },
      h("span", { class: "avatar tiny", text: initial(nameOf(s.assignee)), attrs: { "aria-hidden": "true" } }),
      h("span", { class: "assignee-name", text: nameOf(s.assignee) })));
  }
  const button = h("button", { type: "button", class: "row", on: { click: () => openTeamConversation(c.id) } },
    h("span", { class: "avatar", text: initial(name), attrs: { "aria-hidden": "true" } }),
    h("span", { class: "row-main" },
      h("span", { class: "row-top" },
        h("span", { class: "title", text: name }),
        h("time", { class: "time", text: shortTime(s.last_message_at), dateTime: s.last_message_at || "" })),
      h("span", { class: "row-bottom" },
        h("span", { class: "preview", text: preview(item) }),
        h("span", { class: "badge", text: unread ? String(unread) : "", hidden: !unread, attrs: { "aria-label": `${unread} unread` } })),
      meta));
  if (active) button.setAttribute("aria-current", "true");
  return h("li", { class: `conversation business-row${active ? " active" : ""}${unread ? " unread" : ""}`,
    dataset: { id: c.id } }, button);
}

/* Stream events */

/** Take a conversation's new working state (an answer, or `business.conversation_updated`). */
function applyState(handle, fresh, conversation) {
  const id = fresh.conversation_id;
  biz.owners.set(id, handle);
  if (handle !== biz.current) return;
  changedDuringLoad?.add(id);
  const item = biz.items.get(id);
  if (!item && !conversation) { fetchItem(handle, id); return; }
  biz.items.set(id, { conversation: conversation || item.conversation, state: fresh });
  renderBusinessInbox();
  if (id === biz.openId) renderOpen();
}

/** Fetch a conversation an event named before the inbox listed it. */
async function fetchItem(handle, id) {
  // An event while a fetch is under way may come from a change its answer predates (a first
  // message just after the conversation entered the inbox): fetch once more after it.
  if (fetching.has(id)) { fetching.set(id, true); return; }
  fetching.set(id, false);
  try {
    const one = await api.businessConversation(handle, id);
    biz.owners.set(id, handle);
    if (biz.current === handle) takeFetched(handle, one.state, one.conversation);
  } catch { /* not ours to see (an agent's narrowed scope) */ }
  const again = fetching.get(id);
  fetching.delete(id);
  if (again && biz.current === handle) fetchItem(handle, id);
}

/** A conversation as fetched: taken, unless news of it came meanwhile (its fetch goes again). */
function takeFetched(handle, fresh, conversation) {
  if (!fetching.get(fresh.conversation_id)) applyState(handle, fresh, conversation);
}

/**
 * A conversation the personal view could not fetch (404): perhaps one of a business's.
 * Asks the shown business first, then the others.
 */
export async function claimConversation(id) {
  if (biz.owners.has(id) || !biz.memberships.length) return;
  const handles = biz.memberships.map((m) => m.business.handle).sort((a, b) => (b === biz.current) - (a === biz.current));
  for (const handle of handles) {
    try {
      const one = await api.businessConversation(handle, id);
      biz.owners.set(id, handle);
      if (handle === biz.current) applyState(handle, one.state, one.conversation);
      return;
    } catch { /* not this one's */ }
  }
}

function teamMessageCreated(msg) {
  const id = msg.conversation_id;
  const handle = biz.owners.get(id);
  if (handle !== biz.current) return;
  changedDuringLoad?.add(id);
  const item = biz.items.get(id);
  if (!item) { fetchItem(handle, id); return; }
  const c = item.conversation;
  const fromBusiness = msg.sender?.id === membership()?.business.id;
  if (msg.position > (c.last_activity_position || 0)) {
    c.last_activity_position = msg.position;
    c.last_message = msg;
    c.last_message_at = msg.created_at;
    item.state.last_message_at = msg.created_at;
    if (fromBusiness) item.state.waiting_since = null;
    else {
      item.state.waiting_since ||= msg.created_at;
      if (msg.position > (c.read_position || 0)) c.unread_count = (c.unread_count || 0) + 1;
    }
  }
  teamMessage(msg);
  renderBusinessInbox();
  if (id === biz.openId) renderOpen();
}

function changeMessage(d, change) {
  patchTeamMessage(d.message_id, change);
  const last = biz.items.get(d.conversation_id)?.conversation.last_message;
  if (last?.id === d.message_id) { change(last); renderBusinessInbox(); }
}

function teamUpdated(d) {
  if (d.member?.user?.id === state.me.id) { loadMemberships(); return; }
  if (d.business !== biz.current) return;
  biz.members = biz.members.filter((m) => m.user.id !== d.member.user.id);
  if (!d.removed) biz.members.push(d.member);
  renderAssignees();
  renderTeam();
}

function labelsUpdated(d) {
  if (d.business !== biz.current) return;
  biz.labels = biz.labels.filter((l) => l.id !== d.label.id);
  if (!d.deleted) biz.labels.push(d.label);
  for (const item of biz.items.values()) {
    const labels = item.state.labels || [];
    item.state.labels = d.deleted ? labels.filter((l) => l.id !== d.label.id)
      : labels.map((l) => (l.id === d.label.id ? d.label : l));
  }
  renderLabelFilter();
  renderBusinessInbox();
  renderOpen();
}

function mentioned(d) {
  const m = membership(d.business);
  const item = d.business === biz.current ? biz.items.get(d.conversation_id) : null;
  const where = item ? `${customerName(item)}'s conversation` : "a conversation";
  notice(`${nameOf(d.note.author)} mentioned you in ${where} (${nameOf(m?.business || { handle: d.business })}): “${d.note.text}”`,
    { label: "Open", run: async () => { await showWorkspace(d.business); openTeamConversation(d.conversation_id); } });
}

/**
 * Apply a stream event for the team view.
 * @returns {boolean} true when the event is only the business's (the personal view skips it)
 */
export function businessEvent(ev) {
  const d = ev.data || {};
  switch (ev.type) {
    case "business.conversation_updated": applyState(d.business, d.state); return true;
    case "business.note_added":
      biz.owners.set(d.conversation_id, d.business);
      if (d.business === biz.current) teamNote(d.conversation_id, d.note);
      return true;
    case "business.message_sent":
      biz.agents.set(d.message_id, d.agent);
      renderAgent(d.message_id);
      renderBusinessInbox();
      return true;
    case "business.team_updated": teamUpdated(d); return true;
    case "business.labels_updated": labelsUpdated(d); return true;
    case "business.mentioned": mentioned(d); return true;
    case "business.approval_requested": case "business.approval_decided": approvalEvent(ev.type, d); return true;
    case "business.scheduled_updated": scheduledEvent(d); return true;
    case "business.broadcast_updated": broadcastEvent(d); return true;
    case "business.webhook_disabled": webhookDisabled(d); return true;
    case "conversation.created": {
      const conv = d.conversation;
      const ids = new Set((conv.members || []).map((u) => u.id));
      const m = conv.kind === "direct" && biz.memberships.find((x) => ids.has(x.business.id));
      if (!m) return false;
      biz.owners.set(conv.id, m.business.handle);
      if (ids.has(state.me.id)) biz.mine.add(conv.id);
      return !alsoPersonal(conv.id);
    }
    case "message.created": {
      const id = d.message.conversation_id;
      if (!biz.owners.has(id)) return false;
      teamMessageCreated(d.message);
      return !alsoPersonal(id);
    }
    case "message.edited":
      if (!biz.owners.has(d.conversation_id)) return false;
      changeMessage(d, (m) => { m.text = d.text; m.edited_at = d.edited_at; });
      return !alsoPersonal(d.conversation_id);
    case "message.unsent":
      if (!biz.owners.has(d.conversation_id)) return false;
      changeMessage(d, (m) => { m.unsent = true; m.text = null; m.media = []; });
      return !alsoPersonal(d.conversation_id);
    default:
      return !!d.conversation_id && biz.owners.has(d.conversation_id) && !alsoPersonal(d.conversation_id);
  }
}

/* Notices (mentions, removal) */

/** Show a notice until dismissed; `action` adds a button that runs it (and dismisses). */
function notice(text, action = null) {
  const box = byId("business-notices");
  const item = h("div", { class: "notice", attrs: { role: "status" } }, h("span", { class: "notice-text", text }));
  const dismiss = () => item.remove();
  if (action) {
    item.append(h("button", { type: "button", class: "primary notice-action", text: action.label,
      on: { click: () => { dismiss(); action.run(); } } }));
  }
  item.append(h("button", { type: "button", class: "ghost notice-dismiss", text: "Dismiss",
    attrs: { "aria-label": "Dismiss this notice" }, on: { click: dismiss } }));
  box.append(item);
  while (box.children.length > 4) box.firstElementChild.remove();
}

/* Settings → Business */

function renderSettings() {
  const own = biz.memberships.find((m) => m.business.id === state.me?.id);
  byId("settings-become-business").hidden = !!own;
  if (own) {
    byId("settings-business-text").textContent =
      `This account is a business. Its team works its conversations in “${nameOf(own.business)} inbox”.`;
  }
  byId("settings-business-text").classList.remove("error");
}

async function becomeBusiness() {
  const button = byId("settings-become-business");
  const text = byId("settings-business-text");
  const timezone = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
  button.disabled = true;
  try {
    const made = await api.becomeBusiness(timezone);
    await loadMemberships();
    button.hidden = true;
    text.classList.remove("error");
    text.textContent = `This account is now a business (time zone ${made.timezone}). `
      + `Switch to “${nameOf(made.business)} inbox” to add your team.`;
    byId("settings-close").focus();
  } catch (err) {
    text.textContent = err.message;
    text.classList.add("error");
  } finally {
    button.disabled = false;
  }
}
