/**
 * The business settings dialog (`#business-settings`): whether the business is open now
 * and when it next opens, its time zone, weekly hours (each weekday closed or one or more
 * time ranges), holidays, the welcome and the away message (`GET/PATCH …/settings`), and the
 * saved replies (create, edit, delete; an unknown variable is shown by name). Owners and
 * admins change them; the rest of the team reads them. An error shows next to its field.
 */

import { api } from "../api.js";
import { byId, focusAdrift, h } from "../dom.js";
import { nameOf } from "../render.js";
import { biz, can, membership } from "./business-state.js";
import { forgetReplies } from "./business-composer.js";
import { confirmAction } from "./report.js";

const DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
const DAY_TEXT = { mon: "Monday", tue: "Tuesday", wed: "Wednesday", thu: "Thursday", fri: "Friday", sat: "Saturday", sun: "Sunday" };
const MAX_RANGES = 6;
const VARIABLES = ["customer.name", "customer.first_name", "customer.handle", "agent.name", "agent.first_name",
  "business.name", "customer.attributes.<name>"];

/** The form's working copy: `week` day → [[from, to]], `holidays`, and the last answer. */
let form = { week: {}, holidays: [], saved: null };
let replies = [];
/** The saved reply being edited (its id), or null for a new one. */
let editing = null;

export function initSettings() {
  const dialog = byId("business-settings");
  byId("business-settings-open").addEventListener("click", openSettings);
  byId("business-settings-close").addEventListener("click", () => dialog.close());
  dialog.addEventListener("close", () => { if (focusAdrift(dialog)) byId("business-settings-open").focus(); });
  dialog.addEventListener("click", (e) => { if (e.target === dialog) dialog.close(); });
}

function say(text, error = false) {
  const status = byId("business-settings-status");
  status.textContent = text;
  status.classList.toggle("error", error);
}

async function openSettings() {
  const dialog = byId("business-settings");
  byId("business-settings-title").textContent = `${nameOf(membership()?.business)} settings`;
  say("Loading…");
  byId("business-settings-body").replaceChildren();
  if (!dialog.open) dialog.showModal();
  byId("business-settings-close").focus();
  const handle = biz.current;
  try {
    const [settings, list] = await Promise.all([api.businessSettings(handle), api.savedReplies(handle)]);
    if (biz.current !== handle) return;
    replies = list.items || [];
    editing = null;
    take(settings);
    build();
    say(can("manage_settings") ? "" : "Only owners and admins change these settings.");
  } catch (err) {
    say(err.message, true);
  }
}

/** Take the server's settings as the form's working copy. */
function take(settings) {
  form = {
    week: Object.fromEntries(DAYS.map((d) => [d, (settings.hours?.week?.[d] || []).map((r) => [...r])])),
    holidays: [...(settings.hours?.holidays || [])],
    always: settings.hours === null,
    saved: settings,
  };
}

/* Building the dialog */

function build() {
  const manage = can("manage_settings");
  const fields = h("fieldset", { id: "bset-fields", class: "bset-fields", disabled: !manage },
    h("legend", { class: "visually-hidden", text: "Business hours and messages" }),
    hoursSection(), holidaysSection(), messagesSection());
  const settingsForm = h("form", { id: "bset-form", noValidate: true, on: { submit: (e) => { e.preventDefault(); save(); } } },
    openNow(), fields,
    h("div", { class: "dialog-buttons", hidden: !manage },
      h("button", { id: "bset-save", class: "primary", type: "submit", text: "Save settings" })),
    h("p", { id: "bset-error", class: "form-error", attrs: { role: "alert" } }));
  byId("business-settings-body").replaceChildren(settingsForm, repliesSection());
}

/** "Open now" / "Closed now · opens Mon 09:00 (Europe/Paris)", from the last answer. */
function openNow() {
  return h("p", { id: "bset-open-now", class: "bset-open-now", attrs: { role: "status" }, text: openText(form.saved) });
}

function openText(s) {
  if (!s) return "";
  if (s.open_now) return s.hours === null ? "Open now: always open (no business hours)." : "Open now.";
  if (!s.next_open) return "Closed now, with no opening ahead.";
  const when = new Intl.DateTimeFormat(undefined, {
    timeZone: s.timezone, weekday: "short", day: "numeric", month: "short", hour: "2-digit", minute: "2-digit",
  }).format(new Date(s.next_open));
  return `Closed now. Next opening: ${when} (${s.timezone}).`;
}

function errorLine(id) {
  return h("p", { id, class: "form-error field-error", attrs: { role: "alert" } });
}

function hoursSection() {
  const zones = timeZones(form.saved.timezone);
  const zone = h("select", { id: "bset-timezone", attrs: { "aria-describedby": "bset-timezone-error" } },
    ...zones.map((z) => h("option", { value: z, text: z })));
  zone.value = form.saved.timezone;
  const always = h("input", { id: "bset-always-open", type: "checkbox", checked: form.always,
    on: { change: () => { form.always = always.checked; byId("bset-week").hidden = form.always; } } });
  const week = h("div", { id: "bset-week", class: "bset-week", hidden: form.always }, ...DAYS.map(dayRow));
  return h("section", { class: "settings-section", attrs: { "aria-labelledby": "bset-hours-title" } },
    h("h3", { id: "bset-hours-title", text: "Business hours" }),
    h("div", { class: "field" }, h("label", { for: "bset-timezone", text: "Time zone" }), zone, errorLine("bset-timezone-error")),
    h("label", { class: "check" }, always, " Always open (no business hours)"),
    week);
}

function timeZones(current) {
  const all = typeof Intl.supportedValuesOf === "function" ? Intl.supportedValuesOf("timeZone") : [];
  return [...new Set(["UTC", current, ...all])].filter(Boolean).sort((a, b) => (a === "UTC" ? -1 : b === "UTC" ? 1 : a.localeCompare(b)));
}

/** One weekday: "Closed" or its time ranges, each with its remove button, and "Add hours". */
function dayRow(day) {
  const ranges = form.week[day];
  const closed = h("input", { id: `bset-${day}-closed`, type: "checkbox", checked: ranges.length === 0,
    on: { change: () => { form.week[day] = closed.checked ? [] : [["09:00", "17:00"]]; redrawDay(day); } } });
  const rows = ranges.map(([from, to], i) => {
    const label = `${DAY_TEXT[day]}, hours ${i + 1}`;
    const start = h("input", { type: "time", value: from, class: "bset-from", attrs: { "aria-label": `${label}: from` },
      on: { change: () => { form.week[day][i][0] = start.value; } } });
    const end = h("input", { type: "time", value: to, class: "bset-to", attrs: { "aria-label": `${label}: to` },
      on: { change: () => { form.week[day][i][1] = end.value; } } });
    return h("li", { class: "bset-range" }, start, h("span", { text: "–", attrs: { "aria-hidden": "true" } }), end,
      h("button", { type: "button", class: "ghost", text: "Remove", attrs: { "aria-label": `Remove ${label}` },
        on: { click: () => { form.week[day].splice(i, 1); redrawDay(day, true); } } }));
  });
  const add = h("button", { type: "button", class: "link bset-add-range", text: "Add hours", hidden: !ranges.length || ranges.length >= MAX_RANGES,
    attrs: { "aria-label": `Add hours on ${DAY_TEXT[day]}` },
    on: { click: () => { form.week[day].push(nextRange(form.week[day])); redrawDay(day, true); } } });
  return h("fieldset", { id: `bset-${day}`, class: "bset-day", attrs: { "aria-describedby": `bset-${day}-error` } },
    h("legend", { text: DAY_TEXT[day] }),
    h("label", { class: "check" }, closed, " Closed"),
    h("ul", { class: "bset-ranges" }, ...rows), add, errorLine(`bset-${day}-error`));
}

/** A range after the last one (or the usual 09:00-17:00). */
function nextRange(ranges) {
  if (!ranges.length) return ["09:00", "17:00"];
  const [, end] = ranges[ranges.length - 1];
  const [hh, mm] = end.split(":").map(Number);
  const start = Math.min(hh * 60 + mm + 60, 22 * 60);
  const t = (m) => `${String(Math.floor(m / 60)).padStart(2, "0")}:${String(m % 60).padStart(2, "0")}`;
  return [t(start), t(Math.min(start + 60, 23 * 60 + 59))];
}

/** Rebuild a day's row; `focusAdd`: the focus goes to its "Add hours" (the row it was in went). */
function redrawDay(day, focusAdd = false) {
  const row = dayRow(day);
  byId(`bset-${day}`).replaceWith(row);
  if (focusAdd) (row.querySelector(".bset-range:last-child .bset-from") || row.querySelector("input")).focus();
}

function holidaysSection() {
  const date = h("input", { id: "bset-holiday-date", type: "date", attrs: { "aria-describedby": "bset-holidays-error" } });
  const add = h("button", { id: "bset-holiday-add", type: "button", text: "Add holiday", on: { click: () => {
    byId("bset-holidays-error").textContent = "";
    if (!/^\d{4}-\d{2}-\d{2}$/.test(date.value)) { byId("bset-holidays-error").textContent = "Pick a date first."; return; }
    if (!form.holidays.includes(date.value)) form.holidays = [...form.holidays, date.value].sort();
    date.value = "";
    renderHolidays();
    date.focus();
  } } });
  return h("section", { class: "settings-section", attrs: { "aria-labelledby": "bset-holidays-title" } },
    h("h3", { id: "bset-holidays-title", text: "Holidays" }),
    h("p", { class: "hint", text: "Closed all day on these dates, whatever the weekly hours say." }),
    h("ul", { id: "bset-holidays", class: "bset-holidays", attrs: { "aria-labelledby": "bset-holidays-title" } }, ...holidayItems()),
    h("div", { class: "new-row" }, h("label", { for: "bset-holiday-date", class: "visually-hidden", text: "Holiday date" }), date, add),
    errorLine("bset-holidays-error"));
}

function holidayItems() {
  if (!form.holidays.length) return [h("li", { class: "hint", text: "No holidays." })];
  return form.holidays.map((d) => h("li", { class: "bset-holiday", dataset: { date: d } },
    h("time", { dateTime: d, text: new Date(`${d}T12:00:00Z`).toLocaleDateString(undefined, { dateStyle: "medium", timeZone: "UTC" }) }),
    h("button", { type: "button", class: "ghost", text: "Remove", attrs: { "aria-label": `Remove the holiday ${d}` },
      on: { click: () => { form.holidays = form.holidays.filter((x) => x !== d); renderHolidays(); byId("bset-holiday-date").focus(); } } })));
}

function renderHolidays() {
  byId("bset-holidays").replaceChildren(...holidayItems());
}

function messagesSection() {
  const area = (id, label, hint, value) => h("div", { class: "field" },
    h("label", { for: id, text: label }),
    h("textarea", { id, rows: 3, maxLength: 2000, value: value || "", attrs: { "aria-describedby": `${id}-hint ${id}-error` } }),
    h("p", { id: `${id}-hint`, class: "hint", text: hint }), errorLine(`${id}-error`));
  return h("section", { class: "settings-section", attrs: { "aria-labelledby": "bset-messages-title" } },
    h("h3", { id: "bset-messages-title", text: "Automatic messages" }),
    area("bset-welcome", "Welcome message", "Sent as the business on a customer's first message. Empty: none.", form.saved.welcome_message),
    area("bset-away", "Away message", "Sent when a customer writes while the business is closed, once a closure. Empty: none.",
      form.saved.away_message));
}

/* Saving */

/** The hours as the API takes them (checked here first: each range from < to, apart). */
function hoursValue(errors) {
  if (form.always) return null;
  const week = {};
  for (const day of DAYS) {
    const ranges = form.week[day].map(([a, b]) => [a, b]).sort((x, y) => (x[0] < y[0] ? -1 : 1));
    for (const [i, [from, to]] of ranges.entries()) {
      if (!from || !to) errors[`bset-${day}-error`] = "Give each range a start and an end.";
      else if (from >= to) errors[`bset-${day}-error`] = `${from}–${to}: the end comes after the start.`;
      else if (i && from <= ranges[i - 1][1]) errors[`bset-${day}-error`] = "The ranges overlap: keep them apart.";
    }
    if (ranges.length) week[day] = ranges;
  }
  return { week, holidays: form.holidays };
}

function clearErrors() {
  for (const el of byId("business-settings-body").querySelectorAll("#bset-form .form-error")) el.textContent = "";
}

/** Which field's error line a server error belongs to (by its field, or what it names). */
function errorField(err) {
  const loc = err.details?.fields?.[0]?.loc || [];
  const named = loc.find((p) => ["timezone", "welcome_message", "away_message", "holidays", ...DAYS].includes(p));
  const key = named || (/^(mon|tue|wed|thu|fri|sat|sun):/.exec(err.message) || [])[1]
    || (/holiday/i.test(err.message) ? "holidays" : /time zone/i.test(err.message) ? "timezone" : null);
  const ids = { timezone: "bset-timezone-error", welcome_message: "bset-welcome-error", away_message: "bset-away-error",
    holidays: "bset-holidays-error" };
  return ids[key] || (DAYS.includes(key) ? `bset-${key}-error` : "bset-error");
}

async function save() {
  if (!can("manage_settings")) return;
  clearErrors();
  const errors = {};
  const hours = hoursValue(errors);
  const first = Object.keys(errors)[0];
  if (first) {
    for (const [id, text] of Object.entries(errors)) byId(id).textContent = text;
    byId("bset-error").textContent = "Some hours need fixing: see above.";
    byId(first).closest("fieldset")?.querySelector("input")?.focus();
    return;
  }
  const changes = {
    timezone: byId("bset-timezone").value,
    hours,
    welcome_message: byId("bset-welcome").value.trim() || null,
    away_message: byId("bset-away").value.trim() || null,
  };
  const button = byId("bset-save");
  button.disabled = true;
  say("Saving…");
  try {
    const saved = await api.patchBusinessSettings(biz.current, changes);
    take(saved);
    if (!form.always) for (const day of DAYS) redrawDay(day); // as stored: ranges in order
    byId("bset-open-now").textContent = openText(saved);
    say("Saved.");
  } catch (err) {
    const id = errorField(err);
    byId(id).textContent = err.message;
    say("Not saved.", true);
    byId(id).closest(".field, fieldset, section")?.querySelector("input, select, textarea")?.focus();
  } finally {
    button.disabled = false;
  }
}

/* Saved replies */

function repliesSection() {
  const manage = can("manage_replies");
  const section = h("section", { id: "bset-replies-section", class: "settings-section", attrs: { "aria-labelledby": "bset-replies-title" } },
    h("h3", { id: "bset-replies-title", text: "Saved replies" }),
    h("p", { class: "hint", text: "Type / at the start of a reply to use one." }),
    h("ul", { id: "bset-replies", class: "bset-replies", attrs: { "aria-labelledby": "bset-replies-title" } }, ...replyItems()));
  if (manage) section.append(replyForm());
  return section;
}

function replyItems() {
  if (!replies.length) return [h("li", { class: "hint", text: "No saved replies yet." })];
  return replies.map((r) => {
    const li = h("li", { class: "bset-reply", dataset: { id: r.id, shortcut: r.shortcut } },
      h("span", { class: "reply-shortcut", text: `/${r.shortcut}` }), h("span", { class: "reply-title", text: r.title }),
      h("span", { class: "reply-text", text: r.text }));
    if (can("manage_replies")) {
      li.append(h("span", { class: "bset-reply-actions" },
        h("button", { type: "button", class: "ghost bset-reply-edit", text: "Edit", attrs: { "aria-label": `Edit /${r.shortcut}` },
          on: { click: () => editReply(r) } }),
        h("button", { type: "button", class: "ghost danger bset-reply-delete", text: "Delete", attrs: { "aria-label": `Delete /${r.shortcut}` },
          on: { click: () => deleteReply(r) } })));
    }
    return li;
  });
}

function renderReplies() {
  byId("bset-replies").replaceChildren(...replyItems());
  forgetReplies(); // the composer fetches them again
}

function replyForm() {
  const input = (id, label, props) => h("div", { class: "field" }, h("label", { for: id, text: label }),
    h(props.rows ? "textarea" : "input", { id, autocomplete: "off", ...props, attrs: { "aria-describedby": "bset-reply-error" } }));
  return h("form", { id: "bset-reply-form", class: "bset-reply-form", noValidate: true,
    on: { submit: (e) => { e.preventDefault(); saveReply(); } } },
  h("h4", { id: "bset-reply-form-title", text: "New saved reply" }),
  input("bset-reply-shortcut", "Shortcut", { maxLength: 32, placeholder: "thanks", autocapitalize: "none", spellcheck: false }),
  input("bset-reply-title", "Title", { maxLength: 200 }),
  input("bset-reply-text", "Text", { rows: 4, maxLength: 4096 }),
  h("p", { class: "hint", text: `Variables: ${VARIABLES.map((v) => `{{${v}}}`).join(", ")}; a fallback after a bar: {{customer.first_name|there}}.` }),
  h("p", { id: "bset-reply-error", class: "form-error", attrs: { role: "alert" } }),
  h("div", { class: "dialog-buttons" },
    h("button", { id: "bset-reply-cancel", type: "button", text: "Cancel", hidden: true, on: { click: () => editReply(null) } }),
    h("button", { id: "bset-reply-save", class: "primary", type: "submit", text: "Add saved reply" })));
}

function editReply(reply) {
  editing = reply?.id || null;
  byId("bset-reply-form-title").textContent = reply ? `Edit /${reply.shortcut}` : "New saved reply";
  byId("bset-reply-shortcut").value = reply?.shortcut || "";
  byId("bset-reply-title").value = reply?.title || "";
  byId("bset-reply-text").value = reply?.text || "";
  byId("bset-reply-save").textContent = reply ? "Save changes" : "Add saved reply";
  byId("bset-reply-cancel").hidden = !reply;
  byId("bset-reply-error").textContent = "";
  byId("bset-reply-shortcut").focus();
}

async function saveReply() {
  const body = { shortcut: byId("bset-reply-shortcut").value.trim(), title: byId("bset-reply-title").value.trim(),
    text: byId("bset-reply-text").value };
  const error = byId("bset-reply-error");
  error.textContent = "";
  if (!body.shortcut || !body.title || !body.text.trim()) { error.textContent = "A saved reply needs a shortcut, a title and text."; return; }
  const handle = biz.current;
  try {
    const saved = editing ? await api.updateSavedReply(handle, editing, body) : await api.createSavedReply(handle, body);
    replies = [...replies.filter((r) => r.id !== saved.id), saved].sort((a, b) => a.shortcut.localeCompare(b.shortcut));
    renderReplies();
    say(editing ? `Saved /${saved.shortcut}.` : `Added /${saved.shortcut}.`);
    editReply(null);
  } catch (err) {
    const unknown = err.details?.unknown;
    error.textContent = unknown?.length
      ? `Unknown variable${unknown.length > 1 ? "s" : ""}: ${unknown.map((v) => `{{${v}}}`).join(", ")}. ${err.message}`
      : err.message;
    byId(err.code === "shortcut_taken" ? "bset-reply-shortcut" : "bset-reply-text").focus();
  }
}

async function deleteReply(reply) {
  const handle = biz.current;
  const done = await confirmAction({ title: `Delete /${reply.shortcut}?`, text: `“${reply.title}” goes for the whole team.`,
    confirmLabel: "Delete", action: () => api.deleteSavedReply(handle, reply.id) });
  if (!done) return;
  replies = replies.filter((r) => r.id !== reply.id);
  if (editing === reply.id) editReply(null);
  renderReplies();
  say(`Deleted /${reply.shortcut}.`);
  byId("bset-reply-shortcut").focus();
}
