/**
 * One team conversation (`#business-conversation`): its messages, each of the business's
 * showing the teammate who wrote it ("Agnes · as Shop"), the composer replying as the
 * business, and the side panel (below on phones): status (snooze until a date), priority,
 * assignee, labels, private notes with @mentions, the customer. Viewers read only.
 */

import { api, uuid } from "../api.js";
import { byId, h } from "../dom.js";
import { initial, linkify, longTime, nameOf, shortTime } from "../render.js";
import { state } from "../state.js";
import {
  PRIORITIES, PRIORITY_TEXT, STATUSES, STATUS_TEXT, biz, can, clearOpen, customerName, membership, textOn, waitingText,
} from "./business-state.js";
import { forgetReplies, initComposer } from "./business-composer.js";
import { openScheduled } from "./business-outbound.js";
import { openContact } from "./business-contact.js";
import { presenceClosed, presenceOpened } from "./business-presence.js";
import { heldReply, renderHeld } from "./business-approvals.js";

/** Set by initBusinessConversation: apply a fresh state (list and panel), re-render the list. */
let hooks = { applyState: () => {}, renderList: () => {} };
const ATTACHMENT = { image: "Photo", gif: "GIF", video: "Video", audio: "Audio", voice: "Voice message", document: "File" };
const MENTION = /(?<![\w@])@([a-z0-9_]{3,30})\b/gi;

/** @param {{applyState: (handle: string, s: any) => void, renderList: () => void}} h */
export function initBusinessConversation(h) {
  hooks = h;
  initComposer(); // first: its keys (Enter on a saved reply) come before sending
  const text = byId("bconv-text");
  byId("bconv-composer").addEventListener("submit", (e) => { e.preventDefault(); reply(); });
  text.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); reply(); }
  });
  text.addEventListener("input", () => {
    text.style.height = "auto";
    text.style.height = `${Math.min(text.scrollHeight, 160)}px`;
  });
  byId("bconv-back").addEventListener("click", () => closeTeamConversation(true));
  byId("bconv-older").addEventListener("click", loadOlder);
}

const business = () => membership()?.business;
const openItem = () => biz.items.get(biz.openId);

/** Open a conversation of the current business: state, notes and its newest messages. */
export async function openTeamConversation(id) {
  const handle = biz.current;
  if (biz.openId !== id) { byId("bconv-text").value = ""; clearOpen(); forgetReplies(); }
  biz.openId = id;
  byId("bconv-messages").replaceChildren();
  byId("bconv-error").textContent = "";
  byId("bconv-empty").hidden = true;
  byId("bconv-view").hidden = false;
  byId("app").classList.add("show-business-conversation");
  presenceOpened(id);
  renderHeld();
  openScheduled(id);
  buildPanel();
  renderOpen();
  hooks.renderList();
  try {
    const [one, page] = await Promise.all([api.businessConversation(handle, id), api.businessHistory(handle, id)]);
    if (biz.openId !== id || biz.current !== handle) return;
    hooks.applyState(handle, one.state, one.conversation);
    biz.notes = one.notes || [];
    for (const m of page.items) { biz.messages.set(m.id, m); if (m.agent) biz.agents.set(m.id, m.agent); }
    biz.olderCursor = page.before_cursor;
    renderMessages();
    renderNotes();
    scrollToBottom();
  } catch (err) {
    if (biz.openId === id) byId("bconv-error").textContent = err.message;
  }
  (can("reply") ? byId("bconv-text") : byId("bconv-title")).focus();
}

/** Close the open conversation; `refocus`: put the focus back on its row. */
export function closeTeamConversation(refocus = false) {
  const id = biz.openId;
  presenceClosed();
  clearOpen();
  renderHeld();
  openScheduled(null);
  byId("bconv-view").hidden = true;
  byId("bconv-empty").hidden = false;
  byId("app").classList.remove("show-business-conversation");
  hooks.renderList();
  if (refocus && id) document.querySelector(`#business-conversations li[data-id="${CSS.escape(id)}"] button`)?.focus();
}

async function loadOlder() {
  const id = biz.openId;
  if (!id || !biz.olderCursor) return;
  try {
    const page = await api.businessHistory(biz.current, id, biz.olderCursor);
    if (biz.openId !== id) return;
    for (const m of page.items) { biz.messages.set(m.id, m); if (m.agent) biz.agents.set(m.id, m.agent); }
    biz.olderCursor = page.before_cursor;
    renderMessages();
  } catch (err) {
    byId("bconv-error").textContent = err.message;
  }
}

async function reply() {
  const id = biz.openId;
  const box = byId("bconv-text");
  const text = box.value.trim();
  if (!id || !text || !can("reply")) return;
  const button = byId("bconv-send");
  button.disabled = true;
  byId("bconv-error").textContent = "";
  try {
    const msg = await api.businessReply(biz.current, id, text, uuid());
    box.value = "";
    box.style.height = "auto";
    if (msg.state === "pending") heldReply(msg); // held for approval (202): business-approvals.js
    else teamMessage(msg);
  } catch (err) {
    byId("bconv-error").textContent = err.message;
  } finally {
    button.disabled = false;
    box.focus();
  }
}

/* Messages */

function renderMessages() {
  const sorted = [...biz.messages.values()].sort((a, b) => a.position - b.position);
  byId("bconv-messages").replaceChildren(...sorted.map(messageEl));
  byId("bconv-older").hidden = !biz.olderCursor;
}

/** Who a message is from, as the team sees it: "Agnes · as Shop", "Shop", or the customer. */
function senderText(msg) {
  const own = business();
  if (msg.sender?.id !== own?.id) return nameOf(msg.sender);
  const agent = biz.agents.get(msg.id) || msg.agent;
  return agent ? `${nameOf(agent)} · as ${nameOf(own)}` : nameOf(own);
}

function messageEl(msg) {
  const fromBusiness = msg.sender?.id === business()?.id;
  const li = h("li", { class: `message ${fromBusiness ? "mine" : "theirs"}${msg.unsent ? " unsent" : ""}`,
    dataset: { id: msg.id, position: String(msg.position) } });
  li.append(h("span", { class: "sender", text: senderText(msg) }));
  const bubble = h("div", { class: "bubble", title: longTime(msg.created_at) });
  if (msg.unsent) bubble.append(h("span", { class: "text", text: "Message unsent" }));
  else {
    const media = msg.media || [];
    if (media.length) bubble.append(h("div", { class: "team-media-list" }, ...media.map(mediaEl)));
    if (msg.kind === "location") bubble.append(h("span", { class: "attachment-note", text: `📍 ${msg.share?.label || "Location"}` }));
    if (msg.text || (!media.length && msg.kind !== "location")) bubble.append(h("span", { class: "text" }, ...linkify(msg.text ?? "")));
    if (msg.edited_at) bubble.append(h("span", { class: "edited", text: "(edited)", title: longTime(msg.edited_at) }));
  }
  li.append(bubble, h("time", { class: "message-time", text: shortTime(msg.created_at), dateTime: msg.created_at || "" }));
  return li;
}

/** Signed links by media id, while they last: `{links, until}` (ms), or a pending fetch. */
const mediaLinks = new Map();

/** The team's signed links to an attachment (`GET …/media/{id}/links`), reused while fresh. */
function linksOf(id) {
  const known = mediaLinks.get(id);
  if (known && (known.pending || known.until > Date.now())) return known.pending || Promise.resolve(known.links);
  const handle = biz.current;
  const pending = api.businessMediaLinks(handle, id).then((links) => {
    mediaLinks.set(id, { links, until: Date.now() + (links.expires_in - 30) * 1000 });
    return links;
  }, (err) => { mediaLinks.delete(id); throw err; });
  mediaLinks.set(id, { pending });
  return pending;
}

/** An attachment as the team sees it: the photo or player once its links come, else a note. */
function mediaEl(item) {
  const what = ATTACHMENT[item.kind] || "Attachment";
  const note = h("span", { class: "attachment-note", text: `📎 ${item.filename || what}` });
  if (item.erased || item.view_once) {
    note.textContent = item.view_once ? `📎 View-once ${what.toLowerCase()} (not shown to the team)` : `📎 ${what} (erased)`;
    return note;
  }
  const box = h("span", { class: `team-media team-media-${item.kind}`, dataset: { media: item.id } }, note);
  linksOf(item.id).then((links) => {
    if (item.kind === "image" || item.kind === "gif") {
      const img = h("img", { src: links.thumbnail_url || links.url, alt: item.filename ? `${what}: ${item.filename}` : what,
        loading: "lazy", width: item.width || undefined, height: item.height || undefined });
      box.replaceChildren(h("a", { href: links.url, target: "_blank", rel: "noopener", class: "team-media-link",
        attrs: { "aria-label": `Open the ${what.toLowerCase()} full size` } }, img));
    } else if (item.kind === "video") {
      box.replaceChildren(h("video", { src: links.url, controls: true, preload: "metadata", poster: links.thumbnail_url || undefined }));
    } else if (item.kind === "audio" || item.kind === "voice") {
      box.replaceChildren(h("audio", { src: links.url, controls: true, preload: "metadata", attrs: { "aria-label": what } }));
    } else {
      box.replaceChildren(h("a", { href: links.url, download: item.filename || "", class: "team-media-file", text: `📎 ${item.filename || what}` }));
    }
  }, () => { note.textContent = `📎 ${what} (can't be shown)`; });
  return box;
}

/** Insert or replace a message of the open conversation (a reply, or an event's). */
export function teamMessage(msg) {
  if (msg.conversation_id !== biz.openId) return;
  if (msg.agent) biz.agents.set(msg.id, msg.agent);
  const known = biz.messages.get(msg.id);
  biz.messages.set(msg.id, known ? { ...known, ...msg } : msg);
  const list = byId("bconv-messages");
  const el = messageEl(biz.messages.get(msg.id));
  const old = list.querySelector(`li.message[data-id="${CSS.escape(msg.id)}"]`);
  if (old) { old.replaceWith(el); return; }
  const near = isNearBottom();
  const after = [...list.children].find((x) => Number(x.dataset.position) > msg.position);
  list.insertBefore(el, after || null);
  if (near || msg.sender?.id === business()?.id) scrollToBottom();
}

/** Change a loaded message (edits, unsends). */
export function patchTeamMessage(messageId, change) {
  const msg = biz.messages.get(messageId);
  if (!msg) return;
  change(msg);
  teamMessage(msg);
}

/** The teammate who wrote a message became known (`business.message_sent`). */
export function renderAgent(messageId) {
  const msg = biz.messages.get(messageId);
  if (msg) teamMessage(msg);
}

function isNearBottom() {
  const s = byId("bconv-scroller");
  return s.scrollHeight - s.scrollTop - s.clientHeight < 120;
}

function scrollToBottom() {
  const s = byId("bconv-scroller");
  s.scrollTop = s.scrollHeight;
}

/* The header and the side panel */

/** Re-render the header, panel values and composer from the open item's state. */
export function renderOpen() {
  const item = openItem();
  if (!biz.openId) return;
  const s = item?.state;
  const name = item ? customerName(item) : "";
  byId("bconv-title").textContent = name;
  byId("bconv-avatar").textContent = initial(name);
  const bits = [s?.customer?.handle ? `@${s.customer.handle}` : "", s ? STATUS_TEXT[s.status] : "", waitingText(s?.waiting_since)];
  byId("bconv-subtitle").textContent = bits.filter(Boolean).join(" · ");
  const canReply = can("reply");
  byId("bconv-composer").hidden = !canReply;
  byId("bconv-text").placeholder = `Reply as ${nameOf(business())}…`;
  const readonly = byId("bconv-readonly");
  readonly.hidden = canReply;
  readonly.textContent = canReply ? "" : "You can read this conversation; a viewer can't reply or change it.";
  if (s) updatePanel(s);
}

/** The panel's controls, kept between renders (re-rendering would lose the focus). */
let panel = {};

function field(id, label, control) {
  return h("div", { class: "field" }, h("label", { for: id, text: label }), control);
}

function section(title, ...children) {
  const id = `bconv-${title.toLowerCase().replace(/\W+/g, "-")}-title`;
  return h("section", { class: "panel-section", attrs: { "aria-labelledby": id } },
    h("h3", { id, text: title }), ...children);
}

function select(id, options, onChange) {
  return h("select", { id, on: { change: onChange } },
    ...options.map(([value, text]) => h("option", { value, text })));
}

/** Build the panel for the open conversation and my role. */
function buildPanel() {
  const triage = can("triage");
  panel = { status: null, priority: null, assignee: null, labels: h("div", { class: "label-toggles",
    attrs: { role: "group", "aria-labelledby": "bconv-labels-title" } }) };
  const work = [];
  if (triage) {
    panel.status = select("bconv-status", STATUSES.map((s) => [s, STATUS_TEXT[s]]), onStatus);
    panel.snoozeUntil = h("input", { id: "bconv-snooze-until", type: "datetime-local" });
    panel.snooze = h("div", { class: "snooze-row", hidden: true },
      h("label", { for: "bconv-snooze-until", text: "Snooze until" }), panel.snoozeUntil,
      h("button", { id: "bconv-snooze", type: "button", text: "Snooze", on: { click: snooze } }));
    panel.priority = select("bconv-priority", PRIORITIES.map((p) => [p, PRIORITY_TEXT[p]]),
      () => triageChange({ priority: panel.priority.value }));
    panel.assignee = h("select", { id: "bconv-assignee",
      on: { change: () => triageChange({ assignee: panel.assignee.value || null }) } });
    panel.assignMe = h("button", { id: "bconv-assign-me", type: "button", class: "link", text: "Assign to me",
      on: { click: () => triageChange({ assignee: state.me.handle }) } });
    work.push(field("bconv-status", "Status", panel.status), panel.snooze,
      field("bconv-priority", "Priority", panel.priority),
      field("bconv-assignee", "Assignee", panel.assignee), panel.assignMe);
  } else {
    panel.text = h("dl", { class: "panel-values" });
    work.push(panel.text);
  }
  const labels = section("Labels", panel.labels);
  if (can("manage_labels")) labels.append(labelForm());
  panel.notes = h("ul", { id: "bconv-notes", class: "notes", attrs: { "aria-label": "Private notes" } });
  const notes = section("Private notes", panel.notes);
  if (can("note")) notes.append(noteForm());
  panel.customer = h("dl", { class: "panel-values" });
  const contact = h("button", { id: "bconv-contact-open", type: "button", class: "link", text: "Contact details",
    attrs: { "aria-haspopup": "dialog" },
    on: { click: () => { const c = openItem()?.state?.customer; if (c?.handle) openContact(c, biz.openId); } } });
  panel.error = h("p", { id: "bconv-panel-error", class: "form-error", attrs: { role: "alert" } });
  byId("bconv-panel").replaceChildren(section("Conversation", ...work), panel.error, labels, notes,
    section("Customer", panel.customer, contact));
  renderAssignees();
}

/** Fill the assignee choices: teammates who may reply (viewers may not). */
export function renderAssignees() {
  if (!panel.assignee) return;
  const chosen = openItem()?.state?.assignee?.handle || "";
  const people = biz.members.filter((m) => m.role !== "viewer" && !m.expired).map((m) => m.user);
  if (chosen && !people.some((u) => u.handle === chosen)) people.push(openItem().state.assignee);
  const options = [["", "Unassigned"], ...people.map((u) => [u.handle, u.id === state.me.id ? `${nameOf(u)} (you)` : nameOf(u)])];
  const same = options.length === panel.assignee.options.length
    && options.every(([value, text], i) => panel.assignee.options[i].value === value && panel.assignee.options[i].text === text);
  if (!same) panel.assignee.replaceChildren(...options.map(([value, text]) => h("option", { value, text })));
  panel.assignee.value = chosen;
}

function updatePanel(s) {
  if (panel.status) {
    panel.status.value = panel.snoozing ? "snoozed" : s.status;
    panel.snooze.hidden = !panel.snoozing && s.status !== "snoozed";
    if (s.status === "snoozed" && s.snoozed_until) panel.snoozeUntil.value = localInput(new Date(s.snoozed_until));
    panel.priority.value = s.priority;
    renderAssignees();
    panel.assignMe.hidden = s.assignee?.id === state.me.id;
  } else {
    const until = s.status === "snoozed" && s.snoozed_until ? ` until ${longTime(s.snoozed_until)}` : "";
    panel.text.replaceChildren(...pairs([["Status", STATUS_TEXT[s.status] + until], ["Priority", PRIORITY_TEXT[s.priority]],
      ["Assignee", s.assignee ? nameOf(s.assignee) : "Unassigned"]]));
  }
  renderLabelToggles(s);
  panel.customer.replaceChildren(...pairs([["Name", nameOf(s.customer)], ["Handle", s.customer?.handle ? `@${s.customer.handle}` : "—"],
    ["In the inbox since", longTime(s.created_at)], ["Last message", longTime(s.last_message_at) || "—"],
    ["Waiting", waitingText(s.waiting_since).replace(/^waiting /, "") || "No: answered"]]));
}

function pairs(rows) {
  return rows.flatMap(([k, v]) => [h("dt", { text: k }), h("dd", { text: v })]);
}

/** The label toggles (triage) or the labels on it as chips (read-only). */
function renderLabelToggles(s) {
  const on = new Set((s.labels || []).map((l) => l.id));
  const focused = document.activeElement?.dataset?.label;
  const shown = can("triage") ? biz.labels : (s.labels || []);
  if (!shown.length) { panel.labels.replaceChildren(h("p", { class: "hint", text: can("triage") ? "No labels yet." : "No labels." })); return; }
  panel.labels.replaceChildren(...shown.map((label) => {
    const chip = labelChip(label);
    if (!can("triage")) return chip;
    const button = h("button", { type: "button", class: "label-toggle", dataset: { label: label.id },
      attrs: { "aria-pressed": String(on.has(label.id)) },
      on: { click: () => toggleLabel(label, !on.has(label.id)) } }, chip);
    return button;
  }));
  if (focused) panel.labels.querySelector(`[data-label="${CSS.escape(focused)}"]`)?.focus();
}

/** A label's chip in its colour. */
export function labelChip(label) {
  const chip = h("span", { class: "label-chip", text: label.name });
  chip.style.backgroundColor = label.color;
  chip.style.color = textOn(label.color);
  return chip;
}

async function toggleLabel(label, on) {
  await run(() => api.setLabel(biz.current, biz.openId, label.id, on));
}

function labelForm() {
  const name = h("input", { id: "bconv-label-name", maxLength: 40, autocomplete: "off", placeholder: "New label" });
  const color = h("input", { id: "bconv-label-color", type: "color", value: "#3b5bdb" });
  const form = h("form", { class: "label-form", noValidate: true },
    h("label", { for: "bconv-label-name", class: "visually-hidden", text: "New label name" }), name,
    h("label", { for: "bconv-label-color", class: "visually-hidden", text: "Label colour" }), color,
    h("button", { id: "bconv-label-create", type: "submit", text: "Create" }));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    if (!name.value.trim()) { panel.error.textContent = "Name the label first."; return; }
    const id = biz.openId;
    const ok = await run(async () => {
      const label = await api.createLabel(biz.current, name.value.trim(), color.value);
      if (!biz.labels.some((l) => l.id === label.id)) biz.labels.push(label);
      return api.setLabel(biz.current, id, label.id, true);
    });
    if (ok) name.value = "";
  });
  return form;
}

function noteForm() {
  const text = h("textarea", { id: "bconv-note-text", rows: 2, maxLength: 10000, attrs: { "aria-describedby": "bconv-note-hint" } });
  const form = h("form", { class: "note-form", noValidate: true },
    h("label", { for: "bconv-note-text", text: "Add a private note" }), text,
    h("p", { id: "bconv-note-hint", class: "hint", text: "Only the team sees notes. @handle tells a teammate." }),
    h("button", { id: "bconv-note-add", type: "submit", text: "Add note" }));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    if (!text.value.trim()) return;
    const id = biz.openId;
    await run(async () => {
      const note = await api.addNote(biz.current, id, text.value.trim());
      text.value = "";
      teamNote(id, note);
    });
    text.focus();
  });
  return form;
}

/** Add a note to the open conversation (a reply, or `business.note_added`; once each). */
export function teamNote(conversationId, note) {
  if (conversationId !== biz.openId || biz.notes.some((n) => n.id === note.id)) return;
  biz.notes.push(note);
  renderNotes();
}

function renderNotes() {
  if (!panel.notes) return;
  if (!biz.notes.length) { panel.notes.replaceChildren(h("li", { class: "hint", text: "No notes yet." })); return; }
  panel.notes.replaceChildren(...biz.notes.map((n) => h("li", { class: "note", dataset: { id: n.id } },
    h("span", { class: "note-head" }, h("span", { class: "note-author", text: nameOf(n.author) }),
      h("time", { class: "hint", text: shortTime(n.created_at), dateTime: n.created_at || "", title: longTime(n.created_at) })),
    h("span", { class: "note-text" }, ...mentionNodes(n.text)))));
}

/** Text with each @handle in a `.mention` span (text nodes only). */
function mentionNodes(text) {
  const nodes = [];
  let last = 0;
  for (const m of text.matchAll(MENTION)) {
    if (m.index > last) nodes.push(document.createTextNode(text.slice(last, m.index)));
    nodes.push(h("span", { class: "mention", text: m[0] }));
    last = m.index + m[0].length;
  }
  if (last < text.length) nodes.push(document.createTextNode(text.slice(last)));
  return nodes;
}

/* Triage */

function onStatus() {
  if (panel.status.value === "snoozed") {
    panel.snoozing = true;
    const tomorrow = new Date();
    tomorrow.setDate(tomorrow.getDate() + 1);
    tomorrow.setHours(9, 0, 0, 0);
    if (!panel.snoozeUntil.value) panel.snoozeUntil.value = localInput(tomorrow);
    panel.snooze.hidden = false;
    panel.snoozeUntil.focus();
    return;
  }
  panel.snoozing = false;
  triageChange({ status: panel.status.value });
}

async function snooze() {
  const at = new Date(panel.snoozeUntil.value);
  if (!panel.snoozeUntil.value || !Number.isFinite(at.getTime())) { panel.error.textContent = "Pick when it wakes up."; return; }
  panel.snoozing = false;
  await triageChange({ status: "snoozed", snoozed_until: at.toISOString() });
}

/** "2026-12-03T09:00" for a datetime-local input, in local time. */
function localInput(d) {
  const p = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}

async function triageChange(changes) {
  const ok = await run(() => api.triage(biz.current, biz.openId, changes));
  if (!ok) renderOpen(); // show what is really stored
}

/** Run a change that answers with the new state; the panel's error line says why not. */
async function run(fn) {
  const handle = biz.current;
  panel.error.textContent = "";
  try {
    const fresh = await fn();
    if (fresh?.conversation_id) hooks.applyState(handle, fresh);
    return true;
  } catch (err) {
    panel.error.textContent = err.message;
    return false;
  }
}
