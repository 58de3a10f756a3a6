/**
 * The FAQ bot dialog (`#business-bot`, opened from the business head's "FAQ bot" button):
 * the bot's switch and texts (`GET/PATCH …/bot`), its knowledge list (`…/bot/entries`:
 * question, other ways to ask it, keywords, answer, buttons; create, edit, delete) and
 * "Try it" (`POST …/bot/try`): the answer it would give to a customer's message, and its
 * buttons, writing nothing. Owners and admins change it (`manage_bot`); the rest of the
 * team reads it. The dialog and its button are built here, so index.html needs neither.
 */

import { request } from "../api.js";
import { byId, focusAdrift, h } from "../dom.js";
import { nameOf } from "../render.js";
import { biz, membership } from "./business-state.js";
import { confirmAction } from "./report.js";

const enc = encodeURIComponent;
const botPath = (b) => `/businesses/${enc(b)}/bot`;
/** The roles that change the bot (domain/business.py `manage_bot`). */
const MANAGERS = ["owner", "admin"];
const ACTION_TEXT = { answer: "It would answer", handoff: "It would hand the conversation to the team",
  unsure: "It is unsure: it would say so and hand the conversation to the team" };

let entries = [];
/** The entry being edited (its id), or null for a new one. */
let editing = null;

/** Whether my role on the shown business may change the bot. */
export const canManageBot = () => MANAGERS.includes(membership()?.role);

export function initBot() {
  const dialog = h("dialog", { id: "business-bot", class: "settings panel business-bot",
    attrs: { "aria-labelledby": "business-bot-title" } },
  h("div", { class: "settings-head" },
    h("h2", { id: "business-bot-title", text: "FAQ bot" }),
    h("button", { id: "business-bot-close", type: "button", class: "ghost", text: "Close",
      attrs: { "aria-label": "Close the FAQ bot" }, on: { click: () => dialog.close() } }),
    h("p", { id: "business-bot-status", class: "status settings-status", attrs: { role: "status", "aria-live": "polite" } })),
  h("div", { id: "business-bot-body" }));
  document.body.append(dialog);
  const open = h("button", { id: "business-bot-open", type: "button", class: "ghost", text: "FAQ bot",
    attrs: { "aria-haspopup": "dialog" }, on: { click: openBot } });
  document.querySelector(".business-head").append(open);
  dialog.addEventListener("close", () => { editing = null; if (focusAdrift(dialog)) open.focus(); });
  dialog.addEventListener("click", (e) => { if (e.target === dialog) dialog.close(); });
}

function say(text, error = false) {
  const status = byId("business-bot-status");
  status.textContent = text;
  status.classList.toggle("error", error);
}

async function openBot() {
  const dialog = byId("business-bot");
  byId("business-bot-title").textContent = `${nameOf(membership()?.business)} FAQ bot`;
  byId("business-bot-body").replaceChildren();
  say("Loading…");
  if (!dialog.open) dialog.showModal();
  byId("business-bot-close").focus();
  const handle = biz.current;
  try {
    const [settings, list] = await Promise.all([request("GET", botPath(handle)), request("GET", `${botPath(handle)}/entries`)]);
    if (biz.current !== handle) return;
    entries = list.items || [];
    editing = null;
    build(settings);
    say(canManageBot() ? "" : "Only owners and admins change the bot.");
  } catch (err) {
    say(err.message, true);
  }
}

/* Building the dialog */

const field = (id, label, control, hint = null) => h("div", { class: "field" },
  h("label", { for: id, text: label }), control, hint ? h("p", { class: "hint", text: hint }) : null);

function build(settings) {
  const manage = canManageBot();
  byId("business-bot-body").replaceChildren(
    settingsForm(settings, manage),
    h("section", { class: "settings-section", attrs: { "aria-labelledby": "bbot-entries-title" } },
      h("h3", { id: "bbot-entries-title", text: "Knowledge" }),
      h("ul", { id: "bbot-entries", class: "bbot-entries", attrs: { "aria-labelledby": "bbot-entries-title" } }),
      manage ? entryForm() : null),
    tryForm());
  renderEntries();
}

function settingsForm(s, manage) {
  const text = (id, label, value, max, rows = 2) => field(id, label,
    h("textarea", { id, rows, maxLength: max, value: value || "" }));
  const form = h("form", { id: "bbot-form", class: "settings-section", noValidate: true,
    on: { submit: (e) => { e.preventDefault(); saveSettings(); } } },
  h("h3", { text: "Answers customers" }),
  h("fieldset", { id: "bbot-fields", class: "bbot-fields", disabled: !manage },
    h("legend", { class: "visually-hidden", text: "The bot's settings" }),
    h("label", { class: "check" }, h("input", { id: "bbot-enabled", type: "checkbox", checked: s.enabled }),
      " On: the bot answers customers from the knowledge below"),
    text("bbot-greeting", "Greeting, once before its first answer (optional)", s.greeting, 1000),
    text("bbot-unsure", "When it is unsure", s.unsure_text, 1000),
    text("bbot-handoff", "When the customer asks for a person", s.handoff_text, 1000),
    field("bbot-handoff-label", "The hand-off button", h("input", { id: "bbot-handoff-label", maxLength: 40, value: s.handoff_label })),
    field("bbot-threshold", "How well a question must match (percent)",
      h("input", { id: "bbot-threshold", type: "number", min: 1, max: 100, step: 1, value: String(s.threshold) }))),
  h("p", { id: "bbot-error", class: "form-error", attrs: { role: "alert" } }),
  manage ? h("button", { id: "bbot-save", type: "submit", class: "primary", text: "Save the bot" }) : null);
  return form;
}

async function saveSettings() {
  const error = byId("bbot-error");
  const button = byId("bbot-save");
  error.textContent = "";
  const threshold = Number(byId("bbot-threshold").value);
  if (!Number.isInteger(threshold) || threshold < 1 || threshold > 100) {
    error.textContent = "The match must be a whole number from 1 to 100.";
    byId("bbot-threshold").focus();
    return;
  }
  const changes = {
    enabled: byId("bbot-enabled").checked,
    greeting: byId("bbot-greeting").value.trim() || null,
    unsure_text: byId("bbot-unsure").value.trim(),
    handoff_text: byId("bbot-handoff").value.trim(),
    handoff_label: byId("bbot-handoff-label").value.trim(),
    threshold,
  };
  for (const key of ["unsure_text", "handoff_text", "handoff_label"]) if (!changes[key]) delete changes[key];
  button.disabled = true;
  try {
    const saved = await request("PATCH", botPath(biz.current), changes);
    say(`Saved. The bot is ${saved.enabled ? "on" : "off"}.`);
  } catch (err) {
    error.textContent = err.message;
  } finally {
    button.disabled = false;
  }
}

/* The knowledge list */

function renderEntries(focusId = null) {
  const list = byId("bbot-entries");
  const manage = canManageBot();
  list.replaceChildren(...entries.map((e) => {
    const ways = e.alternatives.length + 1;
    const meta = [`${ways} way${ways > 1 ? "s" : ""} to ask`, e.keywords.length ? `keywords: ${e.keywords.join(", ")}` : "",
      e.quick_replies.length ? `buttons: ${e.quick_replies.join(" · ")}` : ""].filter(Boolean).join(" · ");
    return h("li", { class: "bbot-entry", dataset: { id: e.id } },
      h("div", { class: "bbot-entry-main" }, h("span", { class: "bbot-question", text: e.question }),
        h("span", { class: "bbot-answer", text: e.answer }), h("span", { class: "hint", text: meta })),
      manage ? h("div", { class: "bbot-entry-buttons" },
        h("button", { type: "button", text: "Edit", dataset: { what: "edit" }, attrs: { "aria-label": `Edit “${e.question}”` },
          on: { click: () => edit(e) } }),
        h("button", { type: "button", class: "danger", text: "Delete", attrs: { "aria-label": `Delete “${e.question}”` },
          on: { click: () => remove(e) } })) : null);
  }));
  if (!entries.length) list.append(h("li", { class: "hint", text: "No questions yet: the bot has nothing to answer with." }));
  if (focusId) list.querySelector(`li[data-id="${CSS.escape(focusId)}"] [data-what=edit]`)?.focus();
}

const lines = (value) => value.split("\n").map((x) => x.trim()).filter(Boolean);
const commas = (value) => value.split(",").map((x) => x.trim()).filter(Boolean);

function entryForm() {
  return h("form", { id: "bbot-entry-form", class: "bbot-entry-form", noValidate: true,
    attrs: { "aria-labelledby": "bbot-entry-title" }, on: { submit: (e) => { e.preventDefault(); saveEntry(); } } },
  h("h4", { id: "bbot-entry-title", text: "Add a question" }),
  field("bbot-entry-question", "Question", h("input", { id: "bbot-entry-question", maxLength: 300, autocomplete: "off" })),
  field("bbot-entry-alternatives", "Other ways to ask it (one per line)", h("textarea", { id: "bbot-entry-alternatives", rows: 2 })),
  field("bbot-entry-keywords", "Keywords (comma-separated)", h("input", { id: "bbot-entry-keywords", autocomplete: "off" })),
  field("bbot-entry-answer", "Answer", h("textarea", { id: "bbot-entry-answer", rows: 3, maxLength: 4096 }),
    "Variables such as {{customer.first_name|there}} are filled in for the customer."),
  field("bbot-entry-buttons", "Buttons offered with the answer (one per line)", h("textarea", { id: "bbot-entry-buttons", rows: 2 })),
  h("p", { id: "bbot-entry-error", class: "form-error", attrs: { role: "alert" } }),
  h("div", { class: "dialog-buttons" },
    h("button", { id: "bbot-entry-cancel", type: "button", text: "Cancel", hidden: true, on: { click: () => edit(null) } }),
    h("button", { id: "bbot-entry-save", type: "submit", class: "primary", text: "Add question" })));
}

/** Fill the form with an entry to edit (null: empty, for a new one). */
function edit(entry) {
  editing = entry?.id || null;
  byId("bbot-entry-title").textContent = entry ? `Edit “${entry.question}”` : "Add a question";
  byId("bbot-entry-question").value = entry?.question || "";
  byId("bbot-entry-alternatives").value = (entry?.alternatives || []).join("\n");
  byId("bbot-entry-keywords").value = (entry?.keywords || []).join(", ");
  byId("bbot-entry-answer").value = entry?.answer || "";
  byId("bbot-entry-buttons").value = (entry?.quick_replies || []).join("\n");
  byId("bbot-entry-error").textContent = "";
  byId("bbot-entry-save").textContent = entry ? "Save question" : "Add question";
  byId("bbot-entry-cancel").hidden = !entry;
  byId("bbot-entry-question").focus();
}

async function saveEntry() {
  const error = byId("bbot-entry-error");
  const body = {
    question: byId("bbot-entry-question").value.trim(),
    alternatives: lines(byId("bbot-entry-alternatives").value),
    keywords: commas(byId("bbot-entry-keywords").value),
    answer: byId("bbot-entry-answer").value.trim(),
    quick_replies: lines(byId("bbot-entry-buttons").value),
  };
  error.textContent = "";
  if (!body.question || !body.answer) {
    error.textContent = !body.question ? "Write the question." : "Write the answer.";
    byId(!body.question ? "bbot-entry-question" : "bbot-entry-answer").focus();
    return;
  }
  const button = byId("bbot-entry-save");
  button.disabled = true;
  try {
    const path = `${botPath(biz.current)}/entries`;
    const saved = editing ? await request("PATCH", `${path}/${enc(editing)}`, body) : await request("POST", path, body);
    entries = editing ? entries.map((e) => (e.id === saved.id ? saved : e)) : [...entries, saved];
    say(`Saved “${saved.question}”.`);
    edit(null);
    renderEntries();
  } catch (err) {
    const unknown = err.details?.unknown;
    error.textContent = unknown?.length
      ? `Unknown variable${unknown.length > 1 ? "s" : ""}: ${unknown.map((v) => `{{${v}}}`).join(", ")}. ${err.message}`
      : err.message;
  } finally {
    button.disabled = false;
  }
}

async function remove(entry) {
  const ok = await confirmAction({ title: "Delete this question?", text: `The bot stops answering “${entry.question}”.`,
    confirmLabel: "Delete question", action: () => request("DELETE", `${botPath(biz.current)}/entries/${enc(entry.id)}`) });
  if (!ok) return;
  entries = entries.filter((e) => e.id !== entry.id);
  if (editing === entry.id) edit(null);
  say(`Deleted “${entry.question}”.`);
  renderEntries();
  byId("bbot-try-text").focus();
}

/* Try it */

function tryForm() {
  return h("form", { id: "bbot-try-form", class: "settings-section", noValidate: true,
    attrs: { "aria-labelledby": "bbot-try-title" }, on: { submit: (e) => { e.preventDefault(); tryIt(); } } },
  h("h3", { id: "bbot-try-title", text: "Try it" }),
  field("bbot-try-text", "A customer's message", h("textarea", { id: "bbot-try-text", rows: 2, maxLength: 4096 })),
  h("button", { id: "bbot-try", type: "submit", text: "Try it" }),
  h("div", { id: "bbot-try-result", class: "bbot-try-result", attrs: { "aria-live": "polite" } }));
}

async function tryIt() {
  const result = byId("bbot-try-result");
  const text = byId("bbot-try-text").value;
  if (!text.trim()) {
    result.replaceChildren(h("p", { class: "form-error", text: "Write a sample message first." }));
    byId("bbot-try-text").focus();
    return;
  }
  try {
    const run = await request("POST", `${botPath(biz.current)}/try`, { text });
    const score = `${Math.round(run.score * 100)}% match${run.entry ? ` with “${run.entry.question}”` : ""}`;
    result.replaceChildren(
      h("p", { class: "bbot-verdict", dataset: { action: run.action }, text: `${ACTION_TEXT[run.action] || run.action} (${score}):` }),
      h("blockquote", { class: "bbot-reply", text: run.text }),
      run.quick_replies.length ? h("ul", { class: "bbot-quick", attrs: { "aria-label": "Its buttons" } },
        ...run.quick_replies.map((q) => h("li", { class: "quick-chip", text: q.label, dataset: { id: q.id } }))) : null);
  } catch (err) {
    result.replaceChildren(h("p", { class: "form-error", text: err.message }));
  }
}
