/**
 * Approval before sending (services/approvals.py). Owners and admins get the queue
 * (`#business-approvals`, its button showing how many wait): each held reply with who wrote
 * it, in which conversation, and its text — approve it, edit and approve it, or reject it
 * with a comment. A restricted agent's reply (answered 202, held) shows in the conversation
 * as "Waiting for approval" (`#bconv-held`) until the decision arrives live
 * (`business.approval_decided`): approved, it is gone (the sent message comes as a message
 * event); rejected, it stays with the comment until dismissed.
 */

import { request } from "../api.js";
import { byId, focusAdrift, h } from "../dom.js";
import { longTime, nameOf, shortTime } from "../render.js";
import { state } from "../state.js";
import { biz, can, customerName, membership } from "./business-state.js";

const enc = encodeURIComponent;
/** The current business's pending replies I may see (all: approvers; my own: authors), by id. */
const pending = new Map();
/** My own replies that were rejected, by id (shown in their conversation until dismissed). */
const rejected = new Map();
/** Set by initApprovals: open a team conversation of the current business. */
let openConversation = () => {};

const path = (b) => `/businesses/${enc(b)}/approvals`;

/** @param {(id: string) => void} open business-conversation.js's openTeamConversation */
export function initApprovals(open) {
  openConversation = open;
  const dialog = byId("business-approvals");
  byId("business-approvals-open").addEventListener("click", openQueue);
  byId("business-approvals-close").addEventListener("click", () => dialog.close());
  dialog.addEventListener("close", () => { if (focusAdrift(dialog)) byId("business-approvals-open").focus(); });
  dialog.addEventListener("click", (e) => { if (e.target === dialog) dialog.close(); });
}

/** A business is shown (or none): forget the last one's held replies, fetch this one's. */
export function resetApprovals() {
  pending.clear();
  rejected.clear();
  renderCount();
  renderHeld();
  if (biz.current) loadPending();
}

/** The head's button: for those who approve, with the count waiting. */
export function renderApprovalsButton() {
  byId("business-approvals-open").hidden = !can("approve");
  renderCount();
}

async function loadPending() {
  const handle = biz.current;
  try {
    const items = [];
    let cursor = null;
    do {
      const page = await request("GET", `${path(handle)}?state=pending&limit=100${cursor ? `&cursor=${enc(cursor)}` : ""}`);
      items.push(...page.items);
      cursor = page.next_cursor;
    } while (cursor && items.length < 1000);
    if (biz.current !== handle) return;
    for (const a of items) pending.set(a.id, a);
    say("");
  } catch (err) {
    say(err.message, true);
  }
  renderCount();
  renderQueue();
  renderHeld();
}

/** `business.approval_requested` and `business.approval_decided`: `{business, approval}`. */
export function approvalEvent(type, data) {
  if (data.business !== biz.current || !data.approval) return;
  const a = data.approval;
  if (type === "business.approval_requested" && a.state === "pending") {
    if (!can("approve") && a.author?.id !== state.me?.id) return;
    pending.set(a.id, a);
  } else {
    pending.delete(a.id);
    if (a.state === "rejected" && a.author?.id === state.me?.id) rejected.set(a.id, a);
  }
  renderCount();
  renderQueue();
  renderHeld();
}

/** A reply I sent was held (the 202 answer): show it waiting. */
export function heldReply(approval) {
  if (approval.state !== "pending") return;
  pending.set(approval.id, approval);
  renderCount();
  renderHeld();
}

function renderCount() {
  const button = byId("business-approvals-open");
  const count = can("approve") ? pending.size : 0;
  byId("business-approvals-count").textContent = count ? String(count) : "";
  button.setAttribute("aria-label", count ? `Approvals, ${count} waiting` : "Approvals");
}

/* The queue (owners, admins) */

async function openQueue() {
  const dialog = byId("business-approvals");
  byId("business-approvals-title").textContent = `Replies waiting for approval — ${nameOf(membership()?.business)}`;
  say("");
  if (!dialog.open) dialog.showModal();
  renderQueue();
  (byId("bapprovals-list").querySelector("button") || byId("business-approvals-close")).focus();
  pending.clear();
  await loadPending();
}

/** Where a held reply was written, as the team knows it. */
function whereText(a) {
  const item = biz.items.get(a.conversation_id);
  return item ? `to ${customerName(item)}` : "in a conversation";
}

function renderQueue() {
  const list = byId("bapprovals-list");
  if (!byId("business-approvals").open) return;
  const focused = list.contains(document.activeElement) ? document.activeElement : null;
  const focusedId = focused?.closest("li")?.dataset.id;
  const items = [...pending.values()].sort((a, b) => (a.created_at < b.created_at ? -1 : 1));
  const kept = new Map([...list.querySelectorAll("li.approval")].map((li) => [li.dataset.id, li]));
  if (!items.length) {
    list.replaceChildren(h("li", { class: "hint", text: "No replies are waiting for approval." }));
    if (focusedId) byId("business-approvals-close").focus();
    return;
  }
  // Keep an item being edited or rejected as it is (its text box and focus).
  list.replaceChildren(...items.map((a) => kept.get(a.id) || queueItem(a)));
  // Moving a node drops its focus: give it back (or to the next item, once it is decided).
  if (focused?.isConnected) focused.focus();
  else if (focusedId) list.querySelector("li.approval button")?.focus();
}

function queueItem(a) {
  const li = h("li", { class: "approval", dataset: { id: a.id } });
  const headId = `bapproval-${a.id}-head`;
  li.setAttribute("aria-labelledby", headId);
  const error = h("p", { class: "form-error", attrs: { role: "alert" } });
  const actions = h("div", { class: "approval-buttons" });
  const area = h("div", { class: "approval-area" });
  const author = nameOf(a.author || { display_name: "A former teammate" });
  const showButtons = () => {
    area.replaceChildren();
    actions.replaceChildren(
      h("button", { type: "button", class: "primary", text: "Approve", attrs: { "aria-label": `Approve ${author}'s reply` },
        on: { click: () => decide(li, a, "approve", {}, error) } }),
      h("button", { type: "button", text: "Edit", attrs: { "aria-label": `Edit and approve ${author}'s reply` },
        on: { click: edit } }),
      h("button", { type: "button", class: "danger", text: "Reject", attrs: { "aria-label": `Reject ${author}'s reply` },
        on: { click: reject } }),
      h("button", { type: "button", class: "link", text: "Open the conversation",
        on: { click: () => { byId("business-approvals").close(); openConversation(a.conversation_id); } } }));
  };
  const form = (id, label, value, submitText, run) => {
    const box = h("textarea", { id, rows: 3, value, maxLength: id.endsWith("-comment") ? 1000 : 70000 });
    const cancel = () => { showButtons(); actions.querySelector("button")?.focus(); };
    box.addEventListener("keydown", (e) => { if (e.key === "Escape") { e.preventDefault(); e.stopPropagation(); cancel(); } });
    area.replaceChildren(h("div", { class: "field" }, h("label", { for: id, text: label }), box));
    actions.replaceChildren(
      h("button", { type: "button", class: "primary", text: submitText, on: { click: () => run(box) } }),
      h("button", { type: "button", text: "Cancel", on: { click: cancel } }));
    box.focus();
  };
  function edit() {
    form(`bapproval-${a.id}-text`, "The reply, as it will be sent", a.text, "Approve edited", (box) => {
      if (!box.value.trim()) { error.textContent = "The reply can't be empty."; box.focus(); return; }
      decide(li, a, "approve", { text: box.value }, error);
    });
  }
  function reject() {
    form(`bapproval-${a.id}-comment`, `Why not? (${author} sees this)`, "", "Reject reply", (box) => {
      if (!box.value.trim()) { error.textContent = "Say why, for the author."; box.focus(); return; }
      decide(li, a, "reject", { comment: box.value.trim() }, error);
    });
  }
  showButtons();
  li.append(
    h("p", { id: headId, class: "approval-head" },
      h("span", { class: "approval-author", text: author }),
      h("span", { text: whereText(a) }),
      h("time", { text: shortTime(a.created_at), dateTime: a.created_at || "", title: longTime(a.created_at) })),
    h("p", { class: "approval-text", text: a.text }), area, error, actions);
  return li;
}

async function decide(li, a, what, body, error) {
  const handle = biz.current;
  error.textContent = "";
  for (const b of li.querySelectorAll("button")) b.disabled = true;
  try {
    const done = await request("POST", `${path(handle)}/${enc(a.id)}/${what}`, body);
    if (biz.current !== handle) return;
    const next = li.nextElementSibling || li.previousElementSibling;
    pending.delete(a.id);
    li.remove();
    const author = nameOf(a.author || { display_name: "a former teammate" });
    say(done.state === "approved" ? `Sent ${author}'s reply${body.text !== undefined ? " (edited)" : ""}.`
      : `Rejected ${author}'s reply.`);
    renderCount();
    renderQueue();
    (next?.querySelector("button") || byId("business-approvals-close")).focus();
  } catch (err) {
    error.textContent = err.message;
    for (const b of li.querySelectorAll("button")) b.disabled = false;
    if (err.code === "approval_decided" || err.code === "approval_not_found") {
      pending.delete(a.id);
      renderCount();
    }
  }
}

function say(text, error = false) {
  const status = byId("business-approvals-status");
  status.textContent = text;
  status.classList.toggle("error", error);
}

/* My held replies, in the open conversation */

/** Re-render the open conversation's held replies of mine (pending, and rejected ones). */
export function renderHeld() {
  const list = byId("bconv-held");
  const id = biz.openId;
  const mineHere = (a) => a.conversation_id === id && a.author?.id === state.me?.id;
  const items = id ? [...pending.values(), ...rejected.values()].filter(mineHere)
    .sort((a, b) => (a.created_at < b.created_at ? -1 : 1)) : [];
  list.hidden = !items.length;
  list.replaceChildren(...items.map(heldEl));
}

function heldEl(a) {
  const business = membership()?.business;
  const li = h("li", { class: `message mine held ${a.state}`, dataset: { approval: a.id } },
    h("span", { class: "sender", text: `You · as ${nameOf(business)}` }),
    h("div", { class: "bubble" }, h("span", { class: "text", text: a.text })));
  if (a.state === "pending") {
    li.append(h("span", { class: "held-state", text: "Waiting for approval" }));
  } else {
    const by = a.decided_by ? nameOf(a.decided_by) : "an admin";
    li.append(h("span", { class: "held-state", text: `Not sent: rejected by ${by}${a.comment ? ` — “${a.comment}”` : ""}` }),
      h("button", { type: "button", class: "ghost held-dismiss", text: "Dismiss",
        attrs: { "aria-label": "Dismiss the rejected reply" },
        on: { click: () => { rejected.delete(a.id); renderHeld(); byId("bconv-text").focus(); } } }));
  }
  return li;
}
