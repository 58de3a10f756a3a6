/**
 * Disappearing messages in a conversation: the menu's "Disappearing messages" opens a dialog
 * (built here) to set the timer — off, the presets, or a custom length — counted from
 * sending or from when everyone has read a message (`PUT …/disappearing`). Any member of a
 * direct conversation may set it, a group's admins; the header says it is on.
 */

import { request } from "../api.js";
import { byId, focusAdrift, h } from "../dom.js";
import { state, upsertConv } from "../state.js";

const enc = encodeURIComponent;
const PRESETS = [[null, "Off"], [300, "5 minutes"], [3600, "1 hour"], [86_400, "24 hours"],
  [604_800, "7 days"], [7_776_000, "90 days"]];
const UNITS = [[60, "minutes"], [3600, "hours"], [86_400, "days"]];

/** "5 minutes", "1 hour", "3 days"… */
export function lengthText(seconds) {
  const preset = PRESETS.find(([s]) => s === seconds);
  if (preset) return preset[1];
  for (const [unit, name] of [[86_400, "day"], [3600, "hour"], [60, "minute"], [1, "second"]]) {
    if (seconds % unit === 0) {
      const n = seconds / unit;
      return `${n} ${name}${n === 1 ? "" : "s"}`;
    }
  }
  return `${seconds} seconds`;
}

/** The header's note when the timer is on, else "". */
export function disappearingText(conv) {
  const d = conv?.disappearing;
  if (!d) return "";
  return `Messages disappear ${lengthText(d.seconds)} after ${d.from === "seen" ? "they are read" : "they are sent"}`;
}

/** Whether I may set the timer here. */
export function canSetTimer(conv) {
  if (!conv) return false;
  if (conv.kind === "group") return conv.role === "admin";
  return !conv.request && conv.folder !== "requests" && conv.folder !== "hidden";
}

let onChanged = () => {};

export function initDisappearing(changed) {
  onChanged = changed;
  const custom = h("div", { id: "disappearing-custom", class: "disappearing-custom", hidden: true },
    h("label", { for: "disappearing-amount", text: "Length" }),
    h("input", { id: "disappearing-amount", type: "number", min: "1", value: "30" }),
    h("label", { for: "disappearing-unit", class: "visually-hidden", text: "Unit" }),
    h("select", { id: "disappearing-unit" }, ...UNITS.map(([v, name]) => h("option", { value: String(v), text: name }))));
  const choices = h("fieldset", { class: "disappearing-choices" }, h("legend", { text: "Messages sent from now on disappear after" }),
    ...[...PRESETS, ["custom", "Custom…"]].map(([value, label]) => h("label", { class: "check" },
      h("input", { type: "radio", value: String(value), attrs: { name: "disappearing-length" },
        on: { change: () => { custom.hidden = value !== "custom"; } } }), label)),
    custom);
  const seen = h("label", { class: "check disappearing-seen" }, h("input", { id: "disappearing-seen", type: "checkbox" }),
    "Count from when everyone has read it (not from sending)");
  const error = h("p", { id: "disappearing-error", class: "error", attrs: { role: "alert" } });
  const dialog = h("dialog", { id: "disappearing-dialog", class: "settings panel", attrs: { "aria-labelledby": "disappearing-title" } },
    h("div", { class: "settings-head" },
      h("h2", { id: "disappearing-title", text: "Disappearing messages" }),
      h("button", { id: "disappearing-close", type: "button", class: "ghost", text: "Close",
        attrs: { "aria-label": "Close disappearing messages" }, on: { click: () => dialog.close() } })),
    h("form", { id: "disappearing-form", class: "settings-section", noValidate: true,
      on: { submit: save, input: () => { byId("disappearing-error").textContent = ""; } } },
      h("p", { class: "hint", text: "Everyone in the conversation sees the change. Messages already sent keep their timer." }),
      choices, seen, error,
      h("button", { id: "disappearing-save", type: "submit", class: "primary", text: "Save" })));
  document.body.append(dialog);
  byId("action-disappearing").addEventListener("click", openDialog);
  dialog.addEventListener("close", () => { if (focusAdrift(dialog)) byId("conversation-menu").focus(); });
}

function openDialog() {
  const conv = state.convs.get(state.openId);
  if (!conv) return;
  byId("conversation-actions").hidden = true;
  const d = conv.disappearing;
  const preset = PRESETS.some(([s]) => s === (d?.seconds ?? null));
  const value = preset ? String(d?.seconds ?? null) : "custom";
  for (const radio of document.querySelectorAll("input[name=disappearing-length]")) radio.checked = radio.value === value;
  byId("disappearing-custom").hidden = value !== "custom";
  if (!preset && d) {
    const [unit] = [...UNITS].reverse().find(([u]) => d.seconds % u === 0) || [60];
    byId("disappearing-unit").value = String(unit);
    byId("disappearing-amount").value = String(d.seconds / unit);
  }
  byId("disappearing-seen").checked = d?.from === "seen";
  byId("disappearing-error").textContent = "";
  byId("disappearing-dialog").showModal();
  document.querySelector("input[name=disappearing-length]:checked")?.focus();
}

async function save(e) {
  e.preventDefault();
  const id = state.openId;
  const chosen = document.querySelector("input[name=disappearing-length]:checked")?.value ?? "null";
  let seconds = chosen === "null" ? null : Number(chosen);
  if (chosen === "custom") {
    const amount = Number(byId("disappearing-amount").value);
    seconds = Math.round(amount * Number(byId("disappearing-unit").value));
    if (!Number.isFinite(amount) || amount <= 0 || seconds < 10 || seconds > 7_776_000) {
      byId("disappearing-error").textContent = "Choose a length from 10 seconds to 90 days.";
      byId("disappearing-amount").focus();
      return;
    }
  }
  try {
    const conv = await request("PUT", `/conversations/${enc(id)}/disappearing`,
      { seconds, from: byId("disappearing-seen").checked ? "seen" : "sent" });
    upsertConv(conv);
    byId("disappearing-dialog").close();
    onChanged();
  } catch (err) {
    byId("disappearing-error").textContent = err.message;
  }
}
