/**
 * The team dialog (`#business-team`): the members with role, scope and expiry; owners and
 * admins add people by handle with a role, change roles and remove people (an admin
 * manages everyone but owners); agents and viewers see the list only. And the audit log
 * (`#business-audit`, owners and admins): every delegated read and write, newest first.
 */

import { api } from "../api.js";
import { byId, focusAdrift, h } from "../dom.js";
import { longTime, nameOf } from "../render.js";
import { state } from "../state.js";
import { ROLE_TEXT, biz, can, customerName, membership } from "./business-state.js";

const ROLES = ["owner", "admin", "agent", "viewer"];
const SCOPE_TEXT = { all: "all conversations", assigned: "conversations assigned to them", team: "their team's conversations" };
const ACTION_TEXT = {
  "inbox.listed": "listed the inbox",
  "conversation.read": "opened a conversation",
  "messages.read": "read messages",
  "message.sent": "replied",
  "note.added": "added a note",
  "conversation.updated": "triaged a conversation",
  "label.created": "created a label",
  "label.updated": "changed a label",
  "label.deleted": "deleted a label",
  "conversation.labelled": "changed a conversation's labels",
  "member.added": "added a teammate",
  "member.changed": "changed a teammate's role",
  "member.removed": "removed a teammate",
  "contact.read": "looked at a customer",
  "contact.updated": "changed a customer's details",
  "media.read": "opened a photo or file",
  // saved views, approvals and rules (business-views.js, business-approvals.js, business-rules.js)
  "view.created": "saved a view of the inbox",
  "view.updated": "changed a view of the inbox",
  "view.deleted": "deleted a view of the inbox",
  "approvals.listed": "looked at the replies waiting for approval",
  "message.held": "wrote a reply that waits for approval",
  "approval.approved": "approved a reply",
  "approval.rejected": "rejected a reply",
  "rule.created": "created a rule",
  "rule.updated": "changed a rule",
  "rule.deleted": "deleted a rule",
};
let auditCursor = null;

export function initTeam() {
  const team = byId("business-team");
  byId("business-team-open").addEventListener("click", openTeam);
  byId("business-team-close").addEventListener("click", () => team.close());
  team.addEventListener("close", () => { if (focusAdrift(team)) byId("business-team-open").focus(); });
  team.addEventListener("click", (e) => { if (e.target === team) team.close(); });
  byId("business-add-form").addEventListener("submit", (e) => { e.preventDefault(); addMember(); });
  const audit = byId("business-audit");
  byId("business-audit-open").addEventListener("click", openAudit);
  byId("business-audit-close").addEventListener("click", () => audit.close());
  audit.addEventListener("close", () => { if (focusAdrift(audit)) byId("business-audit-open").focus(); });
  audit.addEventListener("click", (e) => { if (e.target === audit) audit.close(); });
  byId("business-audit-more").addEventListener("click", () => loadAudit(true));
}

function say(id, text, error = false) {
  const status = byId(id);
  status.textContent = text;
  status.classList.toggle("error", error);
}

async function openTeam() {
  const dialog = byId("business-team");
  byId("business-team-title").textContent = `${nameOf(membership()?.business)} team`;
  say("business-team-status", "");
  byId("business-add-form").hidden = !can("manage_team");
  // Only owners make owners (docs/api.md, roles).
  byId("business-add-role").querySelector('[value="owner"]').hidden = membership()?.role !== "owner";
  renderTeam();
  if (!dialog.open) dialog.showModal();
  (can("manage_team") ? byId("business-add-handle") : byId("business-team-close")).focus();
  try {
    biz.members = (await api.businessMembers(biz.current)).items || [];
    renderTeam();
  } catch (err) {
    say("business-team-status", err.message, true);
  }
}

/** Whether I may change (or remove) this member: owners anyone, admins all but owners. */
function mayManage(member) {
  const mine = membership()?.role;
  return mine === "owner" || (mine === "admin" && member.role !== "owner");
}

/** Re-render the member list while the dialog is open (after a change, or an event). */
export function renderTeam() {
  if (!byId("business-team").open) return;
  const list = byId("business-members");
  const focused = document.activeElement?.dataset?.member ? document.activeElement : null;
  const order = (m) => ROLES.indexOf(m.role);
  const members = [...biz.members].sort((a, b) => order(a) - order(b) || nameOf(a.user).localeCompare(nameOf(b.user)));
  list.replaceChildren(...members.map(memberRow));
  if (focused) {
    list.querySelector(`[data-member="${CSS.escape(focused.dataset.member)}"].${focused.classList[0]}`)?.focus();
  }
}

function memberRow(m) {
  const name = nameOf(m.user);
  const bits = [`@${m.user.handle}`];
  if (m.role === "agent") bits.push(`sees ${SCOPE_TEXT[m.scope] || m.scope}`);
  if (m.expires_at) bits.push(m.expired ? `access ended ${longTime(m.expires_at)}` : `until ${longTime(m.expires_at)}`);
  const li = h("li", { class: "member", dataset: { handle: m.user.handle } },
    h("span", { class: "member-main" },
      h("span", { class: "member-name", text: m.user.id === state.me.id ? `${name} (you)` : name }),
      h("span", { class: "member-handle hint", text: bits.join(" · ") })));
  if (!can("manage_team") || !mayManage(m)) {
    li.append(h("span", { class: "role", text: ROLE_TEXT[m.role] || m.role }));
    return li;
  }
  const roles = ROLES.filter((r) => r !== "owner" || membership()?.role === "owner");
  const select = h("select", { class: "member-role", dataset: { member: m.user.handle },
    attrs: { "aria-label": `Role of ${name}` } }, ...roles.map((r) => h("option", { value: r, text: ROLE_TEXT[r] })));
  select.value = m.role;
  select.addEventListener("change", () => change(m, () => api.putBusinessMember(biz.current, m.user.handle, select.value),
    `${name} is now ${ROLE_TEXT[select.value].toLowerCase()}.`));
  const remove = h("button", { type: "button", class: "member-remove danger", text: m.user.id === state.me.id ? "Leave" : "Remove",
    dataset: { member: m.user.handle },
    attrs: { "aria-label": m.user.id === state.me.id ? "Leave the team" : `Remove ${name} from the team` } });
  remove.addEventListener("click", () => change(m, () => api.removeBusinessMember(biz.current, m.user.handle),
    `${name} was removed. Add them again to undo.`, true));
  li.append(select, remove);
  return li;
}

async function change(member, call, done, removing = false) {
  say("business-team-status", "Saving…");
  try {
    const fresh = await call();
    biz.members = biz.members.filter((x) => x.user.id !== member.user.id);
    if (!removing && fresh) biz.members.push(fresh);
    say("business-team-status", done);
  } catch (err) {
    say("business-team-status", err.message, true);
  }
  renderTeam();
  if (removing) byId("business-add-handle").focus();
}

async function addMember() {
  const input = byId("business-add-handle");
  const handle = input.value.trim().replace(/^@/, "");
  if (!handle) { say("business-team-status", "Type a handle first.", true); return; }
  const role = byId("business-add-role").value;
  byId("business-add").disabled = true;
  say("business-team-status", "Adding…");
  try {
    const member = await api.putBusinessMember(biz.current, handle, role);
    biz.members = biz.members.filter((x) => x.user.id !== member.user.id);
    biz.members.push(member);
    input.value = "";
    say("business-team-status", `${nameOf(member.user)} joined the team as ${ROLE_TEXT[member.role].toLowerCase()}.`);
  } catch (err) {
    say("business-team-status", err.message, true);
  } finally {
    byId("business-add").disabled = false;
  }
  renderTeam();
  input.focus();
}

/* The audit log */

async function openAudit() {
  const dialog = byId("business-audit");
  byId("business-audit-title").textContent = `${nameOf(membership()?.business)} audit log`;
  byId("business-audit-list").replaceChildren();
  if (!dialog.open) dialog.showModal();
  byId("business-audit-close").focus();
  await loadAudit(false);
}

async function loadAudit(more) {
  say("business-audit-status", "Loading…");
  try {
    const page = await api.businessAudit(biz.current, more ? auditCursor : null);
    auditCursor = page.next_cursor;
    byId("business-audit-list").append(...page.items.map(auditRow));
    say("business-audit-status", byId("business-audit-list").children.length ? "" : "Nothing recorded yet.");
  } catch (err) {
    say("business-audit-status", err.message, true);
  }
  byId("business-audit-more").hidden = !auditCursor;
}

function auditRow(entry) {
  const item = entry.conversation_id ? biz.items.get(entry.conversation_id) : null;
  const what = ACTION_TEXT[entry.action] || entry.action;
  const about = item ? ` — ${customerName(item)}` : "";
  const detail = Object.entries(entry.detail || {}).filter(([, v]) => v !== null && v !== undefined && v !== "")
    .map(([k, v]) => `${k}: ${typeof v === "object" ? JSON.stringify(v) : v}`).join(", ");
  return h("li", { class: "audit-entry", dataset: { action: entry.action } },
    h("span", { class: "audit-main", text: `${nameOf(entry.actor)} ${what}${about}` }),
    detail ? h("span", { class: "hint", text: detail }) : null,
    h("time", { class: "hint", text: longTime(entry.at), dateTime: entry.at || "" }));
}
