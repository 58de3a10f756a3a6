/**
 * "Send later" in the team composer: the "Send later" button opens a small form under the
 * composer (when, and "cancel if the customer replies first") that schedules the composer's
 * text (`POST …/scheduled`). The open conversation's pending scheduled messages are listed
 * above the composer (`#bconv-scheduled`), each with Edit (text, time, the cancel flag:
 * `PATCH`) and Cancel (`DELETE`), kept live from `business.scheduled_updated`: a message
 * sent, cancelled (the customer replied first, or a teammate) or failed leaves the list.
 * Its author, owners and admins may change one; the server has the last word.
 *
 * Broadcasts (`#business-broadcasts`, owners and admins, from the head's "Broadcasts"
 * button): how many contacts opted in or out and who, the opt-in and opt-out keywords,
 * a form for a broadcast (text, an optional label as its audience, an optional send
 * time), the broadcasts with their counts, one broadcast's recipients with their statuses,
 * and cancel; kept live from `business.broadcast_updated`.
 */

import { request } from "../api.js";
import { byId, focusAdrift, h } from "../dom.js";
import { longTime, nameOf } from "../render.js";
import { state } from "../state.js";
import { biz, can, membership } from "./business-state.js";

const enc = encodeURIComponent;
const scheduledPath = (b) => `/businesses/${enc(b)}/scheduled`;
const REASON_TEXT = { customer_replied: "the customer replied first", cancelled: "cancelled",
  author_removed: "its author left the team", author_forbidden: "its author may no longer reply",
  out_of_scope: "its author no longer sees this conversation" };

/** The open conversation's pending scheduled messages, by id. @type {Map<string, any>} */
const pending = new Map();
/** Which conversation `pending` is of (null: none open). */
let listedFor = null;
/** The scheduled message being edited in place (its id), or null. */
let editing = null;

/** Build the "Send later" button, its form and the list (once, from initComposer). */
export function initSendLater() {
  const form = byId("bconv-composer");
  const button = h("button", { id: "bconv-later-open", type: "button", class: "ghost later-open", text: "Send later",
    attrs: { "aria-expanded": "false", "aria-controls": "bconv-later" }, on: { click: () => toggleLater() } });
  form.insertBefore(button, byId("bconv-send"));
  const when = h("input", { id: "bconv-later-at", type: "datetime-local", required: true });
  const later = h("div", { id: "bconv-later", class: "later-form", hidden: true,
    attrs: { role: "group", "aria-label": "Send later" } },
  h("div", { class: "field" }, h("label", { for: "bconv-later-at", text: "Send at" }), when),
  h("label", { class: "check" }, h("input", { id: "bconv-later-cancel", type: "checkbox" }),
    " Cancel if the customer replies first"),
  h("div", { class: "later-buttons" },
    h("button", { id: "bconv-later-close", type: "button", text: "Cancel", on: { click: () => toggleLater(false) } }),
    h("button", { id: "bconv-later-save", type: "button", class: "primary", text: "Schedule", on: { click: schedule } })),
  h("p", { id: "bconv-later-error", class: "form-error", attrs: { role: "alert" } }));
  later.addEventListener("keydown", (e) => {
    if (e.key === "Escape") { e.preventDefault(); e.stopPropagation(); toggleLater(false); }
    if (e.key === "Enter" && e.target.tagName === "INPUT") { e.preventDefault(); schedule(); }
  });
  form.after(later);
  const section = h("section", { id: "bconv-scheduled", class: "scheduled", hidden: true,
    attrs: { "aria-labelledby": "bconv-scheduled-title" } },
  h("h3", { id: "bconv-scheduled-title", class: "scheduled-title", text: "Scheduled" }),
  h("ul", { id: "bconv-scheduled-list", class: "scheduled-list", attrs: { "aria-labelledby": "bconv-scheduled-title" } }));
  form.before(section);
}

/** The value of a datetime-local input for an instant (in the browser's time zone). */
function localValue(date) {
  const pad = (n) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

/** An ISO instant from a datetime-local value, or null when it is not a time. */
function instant(value) {
  const at = value ? new Date(value) : null;
  return at && Number.isFinite(at.getTime()) ? at.toISOString() : null;
}

function toggleLater(show = byId("bconv-later").hidden) {
  const later = byId("bconv-later");
  later.hidden = !show;
  byId("bconv-later-open").setAttribute("aria-expanded", String(show));
  byId("bconv-later-error").textContent = "";
  if (show) {
    const at = byId("bconv-later-at");
    if (!at.value) at.value = localValue(new Date(Date.now() + 60 * 60_000)); // an hour from now
    at.focus();
  } else byId("bconv-text").focus();
}

async function schedule() {
  const id = biz.openId;
  const handle = biz.current;
  const text = byId("bconv-text").value.trim();
  const error = byId("bconv-later-error");
  const sendAt = instant(byId("bconv-later-at").value);
  error.textContent = "";
  if (!text) { error.textContent = "Write the message first, then choose when to send it."; byId("bconv-text").focus(); return; }
  if (!sendAt) { error.textContent = "Choose a date and time."; byId("bconv-later-at").focus(); return; }
  if (Date.parse(sendAt) <= Date.now()) { error.textContent = "Choose a time in the future."; byId("bconv-later-at").focus(); return; }
  const button = byId("bconv-later-save");
  button.disabled = true;
  try {
    const made = await request("POST", scheduledPath(handle), { conversation_id: id, text, send_at: sendAt,
      cancel_if_customer_replies: byId("bconv-later-cancel").checked });
    take(made);
    byId("bconv-text").value = "";
    byId("bconv-later-at").value = "";
    byId("bconv-later-cancel").checked = false;
    toggleLater(false);
  } catch (err) {
    error.textContent = err.message;
  } finally {
    button.disabled = false;
  }
}

/**
 * A team conversation opened (its id) or closed (null): list its pending scheduled
 * messages. Called by business-conversation.js.
 */
export async function openScheduled(id) {
  const handle = biz.current;
  if (id !== listedFor) { pending.clear(); editing = null; document.getElementById("bconv-scheduled-status")?.remove(); }
  listedFor = id;
  if (byId("bconv-later")) { byId("bconv-later").hidden = true; byId("bconv-later-open").setAttribute("aria-expanded", "false"); }
  renderScheduled();
  if (!id || !can("reply")) return;
  try {
    const page = await request("GET", `${scheduledPath(handle)}?${new URLSearchParams({ conversation_id: id, status: "pending", limit: "100" })}`);
    if (listedFor !== id || biz.current !== handle) return;
    for (const s of page.items) pending.set(s.id, s);
  } catch { /* the list stays empty; the composer still works */ }
  renderScheduled();
}

/** Take a scheduled message's new state (an answer, or the event). */
function take(s) {
  if (s.conversation_id !== listedFor || !can("reply")) return; // viewers: no composer, no list
  if (s.status === "pending") pending.set(s.id, s);
  else {
    pending.delete(s.id);
    if (editing === s.id) editing = null;
  }
  renderScheduled();
}

/** `business.scheduled_updated` from the stream. */
export function scheduledEvent(d) {
  if (d.business !== biz.current || !d.scheduled) return;
  const s = d.scheduled;
  if (s.status !== "pending" && s.conversation_id === listedFor && pending.has(s.id)) {
    const why = s.status === "sent" ? "was sent" : s.status === "cancelled"
      ? `was cancelled (${REASON_TEXT[s.reason] || s.reason || "cancelled"})` : `failed (${REASON_TEXT[s.reason] || s.reason})`;
    document.getElementById("bconv-scheduled-status")?.remove();
    byId("bconv-scheduled").after(h("p", { id: "bconv-scheduled-status", class: "hint scheduled-status",
      attrs: { role: "status" }, text: `A scheduled message ${why}.` }));
  }
  take(s);
}

/** Whether I may change a scheduled message (its author, owners, admins). */
const mayChange = (s) => s.author?.id === state.me?.id || ["owner", "admin"].includes(membership()?.role);

function renderScheduled() {
  const section = byId("bconv-scheduled");
  const list = byId("bconv-scheduled-list");
  const inList = list.contains(document.activeElement);
  const focused = inList ? document.activeElement.closest("li")?.dataset.id : null;
  const what = inList ? document.activeElement.dataset.what : null;
  const items = [...pending.values()].sort((a, b) => (a.send_at > b.send_at ? 1 : -1));
  section.hidden = !items.length;
  list.replaceChildren(...items.map((s) => (s.id === editing ? editorEl(s) : itemEl(s))));
  if (!focused) return;
  const again = list.querySelector(`li[data-id="${CSS.escape(focused)}"] ${what ? `[data-what="${what}"]` : "button"}`);
  (again || byId("bconv-text")).focus(); // its message went (sent, cancelled): back to the composer
}

function itemEl(s) {
  const when = `${longTime(s.send_at)}${s.cancel_if_customer_replies ? " · unless the customer replies first" : ""}`;
  const change = mayChange(s);
  return h("li", { class: "scheduled-item", dataset: { id: s.id } },
    h("div", { class: "scheduled-main" },
      h("span", { class: "scheduled-text", text: s.text }),
      h("span", { class: "hint scheduled-when", text: `${when} · by ${nameOf(s.author)}` })),
    change ? h("div", { class: "scheduled-buttons" },
      h("button", { type: "button", class: "ghost", text: "Edit", dataset: { what: "edit" },
        attrs: { "aria-label": `Edit the message scheduled for ${longTime(s.send_at)}` },
        on: { click: () => { editing = s.id; renderScheduled(); byId(`bsched-text-${s.id}`).focus(); } } }),
      h("button", { type: "button", class: "ghost danger", text: "Cancel", dataset: { what: "cancel" },
        attrs: { "aria-label": `Cancel the message scheduled for ${longTime(s.send_at)}` }, on: { click: () => cancel(s) } }))
      : null,
    h("p", { class: "form-error", id: `bsched-error-${s.id}`, attrs: { role: "alert" } }));
}

function editorEl(s) {
  const text = h("textarea", { id: `bsched-text-${s.id}`, rows: 2, maxLength: 4096, value: s.text });
  const at = h("input", { id: `bsched-at-${s.id}`, type: "datetime-local", value: localValue(new Date(s.send_at)) });
  const flag = h("input", { id: `bsched-cancel-${s.id}`, type: "checkbox", checked: s.cancel_if_customer_replies });
  const done = (refocus) => { editing = null; renderScheduled(); if (refocus) byId("bconv-scheduled-list").querySelector(`li[data-id="${CSS.escape(s.id)}"] [data-what=edit]`)?.focus(); };
  const form = h("form", { class: "scheduled-item scheduled-edit", noValidate: true, attrs: { "aria-label": "Edit the scheduled message" },
    on: { submit: (e) => { e.preventDefault(); save(s, text.value, at.value, flag.checked, done); },
      keydown: (e) => { if (e.key === "Escape") { e.preventDefault(); e.stopPropagation(); done(true); } } } },
  h("div", { class: "field" }, h("label", { for: text.id, text: "Message" }), text),
  h("div", { class: "field" }, h("label", { for: at.id, text: "Send at" }), at),
  h("label", { class: "check" }, flag, " Cancel if the customer replies first"),
  h("p", { class: "form-error", id: `bsched-error-${s.id}`, attrs: { role: "alert" } }),
  h("div", { class: "later-buttons" },
    h("button", { type: "button", text: "Keep as it was", on: { click: () => done(true) } }),
    h("button", { type: "submit", class: "primary", text: "Save" })));
  return h("li", { dataset: { id: s.id } }, form);
}

async function save(s, text, at, flag, done) {
  const error = byId(`bsched-error-${s.id}`);
  const sendAt = instant(at);
  if (!text.trim()) { error.textContent = "The message cannot be empty."; return; }
  if (!sendAt) { error.textContent = "Choose a date and time."; return; }
  try {
    take(await request("PATCH", `${scheduledPath(biz.current)}/${enc(s.id)}`,
      { text: text.trim(), send_at: sendAt, cancel_if_customer_replies: flag }));
    done(true);
  } catch (err) {
    error.textContent = err.message;
  }
}

async function cancel(s) {
  try {
    take(await request("DELETE", `${scheduledPath(biz.current)}/${enc(s.id)}`));
    byId("bconv-text").focus();
  } catch (err) {
    const error = document.getElementById(`bsched-error-${s.id}`);
    if (error) error.textContent = err.message;
  }
}

/* Broadcasts */

const bcPath = (b) => `/businesses/${enc(b)}/broadcasts`;
const BROADCASTERS = ["owner", "admin"];
const BC_STATUS_TEXT = { scheduled: "Scheduled", sending: "Sending", done: "Done", cancelled: "Cancelled" };
const RECIPIENT_TEXT = { queued: "Queued", sent: "Sent", skipped: "Skipped", failed: "Failed", cancelled: "Cancelled" };
const SKIP_TEXT = { opted_out: "opted out", blocked: "blocked by the business", cannot_message: "cannot be messaged" };

/** The broadcasts shown (newest first), by id, and the one whose recipients are open. */
const broadcasts = new Map();
let recipientsOf = null;

/** Whether my role on the shown business sends broadcasts (domain/business.py `broadcast`). */
const canBroadcast = () => BROADCASTERS.includes(membership()?.role);

/** Build the Broadcasts dialog and its head button (once, from business.js). */
export function initBroadcasts() {
  const dialog = h("dialog", { id: "business-broadcasts", class: "settings panel business-broadcasts",
    attrs: { "aria-labelledby": "business-broadcasts-title" } },
  h("div", { class: "settings-head" },
    h("h2", { id: "business-broadcasts-title", text: "Broadcasts" }),
    h("button", { id: "business-broadcasts-close", type: "button", class: "ghost", text: "Close",
      attrs: { "aria-label": "Close the broadcasts" }, on: { click: () => dialog.close() } }),
    h("p", { id: "business-broadcasts-status", class: "status settings-status", attrs: { role: "status", "aria-live": "polite" } })),
  h("div", { id: "business-broadcasts-body" }));
  document.body.append(dialog);
  const open = h("button", { id: "business-broadcasts-open", type: "button", class: "ghost", text: "Broadcasts", hidden: true,
    attrs: { "aria-haspopup": "dialog" }, on: { click: openBroadcasts } });
  document.querySelector(".business-head").append(open);
  dialog.addEventListener("close", () => { recipientsOf = null; if (focusAdrift(dialog)) open.focus(); });
  dialog.addEventListener("click", (e) => { if (e.target === dialog) dialog.close(); });
}

/** The head's button: for owners and admins (called when the head is drawn). */
export function renderBroadcastsButton() {
  byId("business-broadcasts-open").hidden = !canBroadcast();
}

function bcSay(text, error = false) {
  const status = byId("business-broadcasts-status");
  status.textContent = text;
  status.classList.toggle("error", error);
}

async function openBroadcasts() {
  const dialog = byId("business-broadcasts");
  const handle = biz.current;
  bcSay("Loading…");
  broadcasts.clear();
  recipientsOf = null;
  byId("business-broadcasts-body").replaceChildren();
  if (!dialog.open) dialog.showModal();
  byId("business-broadcasts-close").focus();
  try {
    const [keywords, subscribers, list] = await Promise.all([request("GET", `${bcPath(handle)}/keywords`),
      request("GET", `${bcPath(handle)}/subscribers?limit=100`), request("GET", `${bcPath(handle)}?limit=50`)]);
    if (biz.current !== handle) return;
    for (const b of list.items) broadcasts.set(b.id, b);
    buildBroadcasts(keywords, subscribers);
    bcSay("");
  } catch (err) {
    bcSay(err.message, true);
  }
}

function buildBroadcasts(keywords, subscribers) {
  const optedIn = subscribers.items.filter((s) => s.status === "opted_in");
  const more = subscribers.next_cursor ? "+" : "";
  const text = h("textarea", { id: "bbc-text", rows: 3, maxLength: 4096 });
  const label = h("select", { id: "bbc-label" }, h("option", { value: "", text: "Everyone subscribed" }),
    ...biz.labels.map((l) => h("option", { value: l.id, text: `Subscribed, labelled “${l.name}”` })));
  const when = h("input", { id: "bbc-at", type: "datetime-local" });
  byId("business-broadcasts-body").replaceChildren(
    h("section", { class: "settings-section", attrs: { "aria-labelledby": "bbc-subscribers-title" } },
      h("h3", { id: "bbc-subscribers-title", text: "Subscribers" }),
      h("p", { id: "bbc-count", class: "bbc-count",
        text: `${optedIn.length}${more} subscribed · ${subscribers.items.length - optedIn.length} opted out` }),
      h("ul", { id: "bbc-subscribers", class: "bbc-subscribers", attrs: { "aria-labelledby": "bbc-subscribers-title" } },
        ...subscribers.items.map((s) => h("li", { dataset: { handle: s.customer.handle, status: s.status } },
          h("span", { class: "bbc-name", text: nameOf(s.customer) }),
          h("span", { class: "hint", text: s.status === "opted_in" ? `subscribed ${longTime(s.opted_in_at)}`
            : `opted out ${longTime(s.opted_out_at)}` }))))),
    h("form", { id: "bbc-keywords", class: "settings-section", noValidate: true,
      on: { submit: (e) => { e.preventDefault(); saveKeywords(); } } },
    h("h3", { text: "Keywords" }),
    h("p", { class: "hint", text: "A customer who sends one of these as the whole message opts in or out." }),
    h("div", { class: "field" }, h("label", { for: "bbc-opt-in", text: "Opt in (comma-separated)" }),
      h("input", { id: "bbc-opt-in", autocomplete: "off", value: keywords.opt_in.join(", ") })),
    h("div", { class: "field" }, h("label", { for: "bbc-opt-out", text: "Opt out (comma-separated)" }),
      h("input", { id: "bbc-opt-out", autocomplete: "off", value: keywords.opt_out.join(", ") })),
    h("p", { id: "bbc-keywords-error", class: "form-error", attrs: { role: "alert" } }),
    h("button", { id: "bbc-keywords-save", type: "submit", class: "primary", text: "Save keywords" })),
    h("form", { id: "bbc-form", class: "settings-section", noValidate: true,
      on: { submit: (e) => { e.preventDefault(); sendBroadcast(); } } },
    h("h3", { text: "New broadcast" }),
    h("div", { class: "field" }, h("label", { for: "bbc-text", text: "Message" }), text,
      h("p", { class: "hint", text: "Variables such as {{customer.first_name|friend}} are filled in for each recipient." })),
    h("div", { class: "field" }, h("label", { for: "bbc-label", text: "To" }), label),
    h("div", { class: "field" }, h("label", { for: "bbc-at", text: "Send at (empty: now)" }), when),
    h("p", { id: "bbc-error", class: "form-error", attrs: { role: "alert" } }),
    h("button", { id: "bbc-send", type: "submit", class: "primary", text: "Send broadcast" })),
    h("section", { class: "settings-section", attrs: { "aria-labelledby": "bbc-list-title" } },
      h("h3", { id: "bbc-list-title", text: "Sent and scheduled" }),
      h("ul", { id: "bbc-list", class: "bbc-list", attrs: { "aria-labelledby": "bbc-list-title" } })));
  renderBroadcasts();
}

const commaList = (value) => value.split(",").map((x) => x.trim()).filter(Boolean);

async function saveKeywords() {
  const error = byId("bbc-keywords-error");
  error.textContent = "";
  try {
    const saved = await request("PUT", `${bcPath(biz.current)}/keywords`,
      { opt_in: commaList(byId("bbc-opt-in").value), opt_out: commaList(byId("bbc-opt-out").value) });
    byId("bbc-opt-in").value = saved.opt_in.join(", ");
    byId("bbc-opt-out").value = saved.opt_out.join(", ");
    bcSay("Saved the keywords.");
  } catch (err) {
    error.textContent = err.message;
    byId("bbc-opt-in").focus();
  }
}

async function sendBroadcast() {
  const error = byId("bbc-error");
  const text = byId("bbc-text").value.trim();
  const at = byId("bbc-at").value;
  error.textContent = "";
  if (!text) { error.textContent = "Write the message first."; byId("bbc-text").focus(); return; }
  const sendAt = at ? instant(at) : null;
  if (at && (!sendAt || Date.parse(sendAt) <= Date.now())) {
    error.textContent = "Choose a time in the future, or none to send now.";
    byId("bbc-at").focus();
    return;
  }
  const label = byId("bbc-label").value;
  const button = byId("bbc-send");
  button.disabled = true;
  try {
    const made = await request("POST", bcPath(biz.current), { text, ...(label ? { audience: { label } } : {}),
      ...(sendAt ? { send_at: sendAt } : {}) });
    broadcasts.set(made.id, made);
    byId("bbc-text").value = "";
    byId("bbc-at").value = "";
    bcSay(`${made.status === "scheduled" ? "Scheduled" : "Sending"} a broadcast to ${made.counts.total} `
      + `contact${made.counts.total === 1 ? "" : "s"}.`);
    renderBroadcasts();
  } catch (err) {
    const unknown = err.details?.unknown;
    error.textContent = unknown?.length ? `Unknown variable: ${unknown.map((v) => `{{${v}}}`).join(", ")}. ${err.message}` : err.message;
    byId("bbc-text").focus();
  } finally {
    button.disabled = false;
  }
}

function countsText(c) {
  const parts = [`${c.sent} of ${c.total} sent`];
  for (const key of ["queued", "skipped", "failed", "cancelled"]) if (c[key]) parts.push(`${c[key]} ${key}`);
  return parts.join(" · ");
}

function renderBroadcasts() {
  const list = document.getElementById("bbc-list");
  if (!list) return;
  const inList = list.contains(document.activeElement);
  const focused = inList ? document.activeElement.closest("li.bbc-item")?.dataset.id : null;
  const what = inList ? document.activeElement.dataset.what : null;
  const items = [...broadcasts.values()].sort((a, b) => ((b.created_at || "") > (a.created_at || "") ? 1 : -1));
  list.replaceChildren(...items.map((b) => {
    const open = recipientsOf === b.id;
    const when = b.status === "scheduled" ? `for ${longTime(b.send_at)}` : longTime(b.created_at);
    const audience = b.audience.label ? ` · to “${b.audience.label.name}”` : "";
    return h("li", { class: `bbc-item bbc-${b.status}`, dataset: { id: b.id, status: b.status } },
      h("div", { class: "bbc-main" },
        h("span", { class: "bbc-text", text: b.text }),
        h("span", { class: "hint" }, h("span", { class: `status-chip bbc-status`, text: BC_STATUS_TEXT[b.status] }),
          ` ${when}${audience} · `, h("span", { class: "bbc-counts", text: countsText(b.counts) }))),
      h("div", { class: "bbc-buttons" },
        h("button", { type: "button", text: open ? "Hide recipients" : "Recipients", dataset: { what: "recipients" },
          attrs: { "aria-expanded": String(open), "aria-controls": `bbc-recipients-${b.id}` },
          on: { click: () => toggleRecipients(b.id) } }),
        b.status === "scheduled" || b.status === "sending"
          ? h("button", { type: "button", class: "danger", text: "Cancel", dataset: { what: "cancel" },
            attrs: { "aria-label": `Cancel the broadcast “${b.text.slice(0, 40)}”` }, on: { click: () => cancelBroadcast(b) } })
          : null),
      open ? h("ul", { id: `bbc-recipients-${b.id}`, class: "bbc-recipients", attrs: { "aria-label": "Recipients" } },
        h("li", { class: "hint", text: "Loading…" })) : null);
  }));
  if (!items.length) list.append(h("li", { class: "hint", text: "No broadcasts yet." }));
  if (recipientsOf) loadRecipients(recipientsOf);
  if (focused) {
    const li = list.querySelector(`li.bbc-item[data-id="${CSS.escape(focused)}"]`);
    (li?.querySelector(`[data-what="${what}"]`) || li?.querySelector("[data-what=recipients]"))?.focus();
  }
}

function toggleRecipients(id) {
  recipientsOf = recipientsOf === id ? null : id;
  renderBroadcasts();
}

async function loadRecipients(id) {
  const handle = biz.current;
  try {
    const page = await request("GET", `${bcPath(handle)}/${enc(id)}/recipients?limit=100`);
    const list = document.getElementById(`bbc-recipients-${id}`);
    if (!list || biz.current !== handle) return;
    list.replaceChildren(...page.items.map((r) => h("li", { dataset: { handle: r.customer.handle, status: r.status } },
      h("span", { class: "bbc-name", text: nameOf(r.customer) }), " ",
      h("span", { class: `bbc-recipient-status bbc-r-${r.status}`,
        text: `${RECIPIENT_TEXT[r.status]}${r.reason ? ` (${SKIP_TEXT[r.reason] || r.reason})` : ""}` }))));
    if (!page.items.length) list.append(h("li", { class: "hint", text: "Nobody." }));
  } catch (err) {
    const list = document.getElementById(`bbc-recipients-${id}`);
    if (list) list.replaceChildren(h("li", { class: "form-error", text: err.message }));
  }
}

async function cancelBroadcast(b) {
  try {
    const fresh = await request("POST", `${bcPath(biz.current)}/${enc(b.id)}/cancel`);
    broadcasts.set(fresh.id, fresh);
    bcSay("Cancelled the broadcast: nobody else gets it.");
  } catch (err) {
    bcSay(err.message, true);
  }
  renderBroadcasts();
}

/** `business.broadcast_updated` from the stream: its new counts and status. */
export function broadcastEvent(d) {
  if (d.business !== biz.current || !d.broadcast || !byId("business-broadcasts").open) return;
  broadcasts.set(d.broadcast.id, d.broadcast);
  renderBroadcasts();
}
