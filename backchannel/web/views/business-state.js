/**
 * The team view's state (no DOM): the businesses whose team I am on, the one shown, its
 * conversations with their working state, team and labels, and the open conversation.
 * Roles mirror backchannel/domain/business.py (the server has the last word on each call).
 */

import { nameOf } from "../render.js";
import { state } from "../state.js";

export const biz = {
  /** My places on teams: `{business, role, scope, expires_at}` (GET /me/businesses). */
  memberships: [],
  /** The handle of the business shown, or null for "My messages". */
  current: null,
  /** The current business's conversations: id → `{conversation, state}`. @type {Map<string, any>} */
  items: new Map(),
  /** Every conversation known to be some business's: id → business handle. @type {Map<string, string>} */
  owners: new Map(),
  /** Those of them I am a member of myself (the business account, or its customer). @type {Set<string>} */
  mine: new Set(),
  /** The current business's team and labels. */
  members: [],
  labels: [],
  /** The inbox filters (`status` "all" lists every status). */
  filters: { status: "open", assignee: "", label: "", priority: "", unread: false },
  nextCursor: null,
  /** The open team conversation's id, its messages (id → message) and notes. */
  openId: null,
  messages: new Map(),
  notes: [],
  olderCursor: null,
  /** Who wrote each of the business's messages: message id → user (from `agent`, or the event). */
  agents: new Map(),
};

/** Forget everything (logging out). */
export function resetBusiness() {
  biz.memberships = [];
  biz.current = null;
  biz.items.clear();
  biz.owners.clear();
  biz.mine.clear();
  biz.members = [];
  biz.labels = [];
  biz.filters = { status: "open", assignee: "", label: "", priority: "", unread: false };
  biz.nextCursor = null;
  biz.agents.clear();
  clearOpen();
}

export function clearOpen() {
  biz.openId = null;
  biz.messages.clear();
  biz.notes = [];
  biz.olderCursor = null;
}

const ACTIONS = {
  reply: ["owner", "admin", "agent"],
  note: ["owner", "admin", "agent"],
  triage: ["owner", "admin", "agent"],
  manage_team: ["owner", "admin"],
  manage_labels: ["owner", "admin"],
  manage_replies: ["owner", "admin"],
  manage_settings: ["owner", "admin"],
  audit: ["owner", "admin"],
  reports: ["owner", "admin", "viewer"],
  share_views: ["owner", "admin"],
  approve: ["owner", "admin"],
  manage_automation: ["owner", "admin"],
};

/** My membership of the business `handle` (default: the one shown), or undefined. */
export const membership = (handle = biz.current) => biz.memberships.find((m) => m.business.handle === handle);

/** Whether my role on the current business may do `action`. */
export function can(action) {
  const role = membership()?.role;
  return !!role && ACTIONS[action].includes(role);
}

/** Whether the conversation is also my own (I am the business account, or its customer). */
export function alsoPersonal(id) {
  if (state.convs.has(id) || biz.mine.has(id)) return true;
  const handle = biz.owners.get(id);
  return !!handle && membership(handle)?.business.id === state.me?.id;
}

export const STATUSES = ["open", "pending", "snoozed", "resolved"];
export const STATUS_TEXT = { open: "Open", pending: "Pending", snoozed: "Snoozed", resolved: "Resolved" };
export const PRIORITIES = ["none", "low", "medium", "high", "urgent"];
export const PRIORITY_TEXT = { none: "No priority", low: "Low", medium: "Medium", high: "High", urgent: "Urgent" };
export const ROLE_TEXT = { owner: "Owner", admin: "Admin", agent: "Agent", viewer: "Viewer" };

/** Whether an item shows under the current filters (kept in step with the server's). */
export function matches(item) {
  const f = biz.filters;
  const s = item.state;
  if (f.status !== "all" && s.status !== f.status) return false;
  if (f.assignee === "me" && s.assignee?.id !== state.me.id) return false;
  if (f.assignee === "none" && s.assignee) return false;
  if (f.label && !(s.labels || []).some((l) => l.id === f.label)) return false;
  if (f.priority && s.priority !== f.priority) return false;
  if (f.unread && !(item.conversation.unread_count > 0)) return false;
  if (f.waiting_minutes && !(s.waiting_since && Date.now() - Date.parse(s.waiting_since) >= f.waiting_minutes * 60000)) return false;
  return true;
}

/** "waiting 12 min" from `waiting_since` ("" when the business answered). */
export function waitingText(since, now = Date.now()) {
  if (!since) return "";
  const minutes = Math.floor((now - Date.parse(since)) / 60000);
  if (!Number.isFinite(minutes)) return "";
  if (minutes < 1) return "waiting < 1 min";
  if (minutes < 60) return `waiting ${minutes} min`;
  if (minutes < 48 * 60) return `waiting ${Math.floor(minutes / 60)} h`;
  return `waiting ${Math.floor(minutes / 1440)} d`;
}

/** The customer's name as the team sees it. */
export const customerName = (item) => nameOf(item?.state?.customer || null);

/** Black or white text, whichever reads better on a `#rrggbb` background. */
export function textOn(color) {
  const m = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(color || "");
  if (!m) return "#ffffff";
  const [r, g, b] = m.slice(1).map((x) => parseInt(x, 16) / 255)
    .map((c) => (c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4));
  return 0.2126 * r + 0.7152 * g + 0.0722 * b > 0.4 ? "#111827" : "#ffffff";
}
