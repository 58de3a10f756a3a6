/**
 * "Send later" in a person's composer: the ⏰ button opens a bar to pick a time for what is
 * typed (`POST …/conversations/{id}/scheduled`, at most 90 days ahead); the conversation's
 * pending scheduled messages are listed above the composer, each cancellable, and follow
 * `scheduled.updated` live (sent, cancelled elsewhere, or not sent — and why).
 */

import { request } from "../api.js";
import { byId, h } from "../dom.js";
import { state } from "../state.js";

const enc = encodeURIComponent;
/** The open conversation's scheduled messages (all statuses seen this session), by id. */
const items = new Map();
const REASONS = {
  conversation_not_found: "you are no longer in this conversation",
  blocked_by_you: "you blocked them",
  cannot_message: "they do not accept messages from you",
  request_limit_reached: "your request is still unanswered",
  account_suspended: "your account is suspended",
};

export function initLater() {
  const open = h("button", { id: "later-open", type: "button", class: "ghost composer-tool", text: "⏰",
    title: "Send later", attrs: { "aria-label": "Send later", "aria-expanded": "false", "aria-controls": "later-bar" },
    on: { click: toggleBar } });
  byId("send").before(open);
  const at = h("input", { id: "later-at", type: "datetime-local" });
  const bar = h("div", { id: "later-bar", class: "composer-bar later-bar", hidden: true,
    attrs: { role: "group", "aria-label": "Send later" } },
  h("label", { for: "later-at", class: "composer-bar-text", text: "Send at" }), at,
  h("button", { id: "later-cancel", type: "button", class: "ghost", text: "Cancel", on: { click: () => closeBar(true) } }),
  h("button", { id: "later-send", type: "button", class: "primary", text: "Schedule", on: { click: schedule } }));
  at.addEventListener("keydown", (e) => {
    if (e.key === "Escape") { e.preventDefault(); closeBar(true); }
    if (e.key === "Enter") { e.preventDefault(); schedule(); }
  });
  const list = h("ul", { id: "later-list", class: "later-list", hidden: true, attrs: { "aria-label": "Scheduled messages" } });
  byId("composer-form").before(list, bar);
}

function localValue(date) {
  const pad = (n) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

function toggleBar() {
  if (!byId("later-bar").hidden) { closeBar(true); return; }
  byId("later-at").value = localValue(new Date(Date.now() + 60 * 60 * 1000));
  byId("later-at").min = localValue(new Date());
  byId("later-bar").hidden = false;
  byId("later-open").setAttribute("aria-expanded", "true");
  byId("later-at").focus();
}

function closeBar(refocus = false) {
  byId("later-bar").hidden = true;
  byId("later-open").setAttribute("aria-expanded", "false");
  if (refocus) byId("composer").focus();
}

async function schedule() {
  const id = state.openId;
  const text = byId("composer").value.trim();
  const error = byId("composer-error");
  error.textContent = "";
  if (!text) { error.textContent = "Write the message first, then pick when to send it."; byId("composer").focus(); return; }
  const when = new Date(byId("later-at").value);
  if (Number.isNaN(when.getTime()) || when.getTime() <= Date.now()) {
    error.textContent = "Pick a time in the future.";
    byId("later-at").focus();
    return;
  }
  try {
    const item = await request("POST", `/conversations/${enc(id)}/scheduled`, { text, send_at: when.toISOString() });
    byId("composer").value = "";
    byId("composer").dispatchEvent(new Event("input"));
    closeBar(true);
    scheduledUpdated(item);
  } catch (err) {
    error.textContent = err.message;
  }
}

/** The conversation opened: its pending scheduled messages. */
export async function showScheduled(conversationId) {
  items.clear();
  closeBar();
  render();
  try {
    const page = await request("GET", `/me/scheduled?conversation_id=${enc(conversationId)}&status=pending`);
    if (state.openId !== conversationId) return;
    for (const item of page.items) items.set(item.id, item);
    render();
  } catch {
    // the list is a convenience: the conversation works without it
  }
}

/** `scheduled.updated` (from any of my devices, or the server sending it). */
export function scheduledUpdated(item) {
  if (item.conversation_id !== state.openId) return;
  items.set(item.id, item);
  render();
}

function when(iso) {
  return new Date(iso).toLocaleString([], { dateStyle: "medium", timeStyle: "short" });
}

function render() {
  const list = byId("later-list");
  const shown = [...items.values()].filter((i) => i.status === "pending" || i.status === "failed")
    .sort((a, b) => a.send_at.localeCompare(b.send_at));
  list.hidden = shown.length === 0;
  list.replaceChildren(...shown.map((item) => h("li", { class: `later-item ${item.status}`, dataset: { id: item.id } },
    h("span", { class: "later-text", text: item.text }),
    h("span", { class: "later-when", text: item.status === "failed"
      ? `Not sent: ${REASONS[item.reason] || item.reason}` : `Sends ${when(item.send_at)}` }),
    item.status === "pending"
      ? h("button", { type: "button", class: "ghost", text: "Cancel",
        attrs: { "aria-label": `Cancel the message scheduled for ${when(item.send_at)}` },
        on: { click: () => cancel(item) } })
      : h("button", { type: "button", class: "ghost", text: "Dismiss",
        on: { click: () => { items.delete(item.id); render(); } } }))));
}

async function cancel(item) {
  try {
    scheduledUpdated(await request("DELETE", `/me/scheduled/${enc(item.id)}`));
  } catch (err) {
    byId("composer-error").textContent = err.message;
  }
}
