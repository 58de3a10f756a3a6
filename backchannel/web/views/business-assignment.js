/**
 * Assignment (`#business-assignment`, opened from the business head's "Assignment" button):
 * how new and reopened conversations are assigned (`GET/PATCH …/assignment`: manual, or
 * round-robin among available teammates within a capacity each, and which roles take part),
 * each teammate's availability and load, and one's own "I take conversations" switch
 * (`PUT …/assignment/availability`). Owners and admins change the settings
 * (`manage_automation`); whoever may reply sets their own availability. The dialog and its
 * button are built here, so index.html needs neither.
 */

import { request } from "../api.js";
import { byId, focusAdrift, h } from "../dom.js";
import { nameOf } from "../render.js";
import { state } from "../state.js";
import { biz, can, membership } from "./business-state.js";

const enc = encodeURIComponent;
const path = (b) => `/businesses/${enc(b)}/assignment`;
const ROLES = [["owner", "Owners"], ["admin", "Admins"], ["agent", "Agents"]];

const canManage = () => can("manage_automation");
const canReply = () => can("reply");

export function initAssignment() {
  const dialog = h("dialog", { id: "business-assignment", class: "settings panel business-assignment",
    attrs: { "aria-labelledby": "business-assignment-title" } },
  h("div", { class: "settings-head" },
    h("h2", { id: "business-assignment-title", text: "Assignment" }),
    h("button", { id: "business-assignment-close", type: "button", class: "ghost", text: "Close",
      attrs: { "aria-label": "Close assignment" }, on: { click: () => dialog.close() } }),
    h("p", { id: "business-assignment-status", class: "status settings-status",
      attrs: { role: "status", "aria-live": "polite" } })),
  h("div", { id: "business-assignment-body" }));
  document.body.append(dialog);
  const open = h("button", { id: "business-assignment-open", type: "button", class: "ghost", text: "Assignment",
    attrs: { "aria-haspopup": "dialog" }, on: { click: openAssignment } });
  document.querySelector(".business-head").append(open);
  dialog.addEventListener("close", () => { if (focusAdrift(dialog)) open.focus(); });
  dialog.addEventListener("click", (e) => { if (e.target === dialog) dialog.close(); });
}

/** Shown to those who may reply (they set their own availability) and to managers. */
export function renderAssignmentButton() {
  byId("business-assignment-open").hidden = !(canReply() || canManage());
}

function say(text, error = false) {
  const status = byId("business-assignment-status");
  status.textContent = text;
  status.classList.toggle("error", error);
}

async function openAssignment() {
  const dialog = byId("business-assignment");
  byId("business-assignment-title").textContent = `${nameOf(membership()?.business)} assignment`;
  byId("business-assignment-body").replaceChildren();
  say("Loading…");
  if (!dialog.open) dialog.showModal();
  byId("business-assignment-close").focus();
  await reload();
}

async function reload() {
  const handle = biz.current;
  try {
    const view = await request("GET", path(handle));
    if (biz.current !== handle) return;
    build(view);
    say(canManage() ? "" : "Only owners and admins change how conversations are assigned.");
  } catch (err) {
    say(err.message, true);
  }
}

function build(view) {
  const manage = canManage();
  const me = state.me?.handle ?? null;
  const mode = h("select", { id: "bassign-mode", disabled: !manage },
    h("option", { value: "manual", text: "Manual: teammates assign conversations" }),
    h("option", { value: "round_robin", text: "Round-robin among available teammates" }));
  mode.value = view.mode;
  const capacity = h("input", { id: "bassign-capacity", type: "number", min: "1", max: "1000",
    value: String(view.capacity), disabled: !manage });
  const roles = h("fieldset", { class: "bassign-roles" }, h("legend", { text: "Who takes part" }),
    ...ROLES.map(([role, label]) => h("label", { class: "check" },
      h("input", { type: "checkbox", value: role, checked: view.roles.includes(role), disabled: !manage,
        attrs: { name: "bassign-role" } }), label)));
  const error = h("p", { id: "bassign-error", class: "error", attrs: { role: "alert" } });
  const save = h("button", { id: "bassign-save", type: "submit", text: "Save", hidden: !manage });
  const form = h("form", { id: "bassign-form", class: "bassign-form", noValidate: true, on: { submit: async (e) => {
    e.preventDefault();
    error.textContent = "";
    const chosen = [...roles.querySelectorAll("input:checked")].map((x) => x.value);
    if (!chosen.length) { error.textContent = "Choose at least one role."; return; }
    const n = Number(capacity.value);
    if (!Number.isInteger(n) || n < 1 || n > 1000) {
      error.textContent = "The capacity is a whole number from 1 to 1000.";
      capacity.setAttribute("aria-invalid", "true");
      capacity.focus();
      return;
    }
    capacity.removeAttribute("aria-invalid");
    try {
      build(await request("PATCH", path(biz.current), { mode: mode.value, capacity: n, roles: chosen }));
      say("Saved.");
    } catch (err) {
      error.textContent = err.message;
    }
  } } },
  h("div", { class: "field" }, h("label", { for: "bassign-mode", text: "New and reopened conversations" }), mode),
  h("div", { class: "field" }, h("label", { for: "bassign-capacity", text: "Open or pending conversations each, at most" }), capacity),
  roles, error, save);

  const mine = view.agents.find((a) => a.user.handle === me);
  const available = mine && canReply() ? h("label", { class: "check bassign-me" },
    h("input", { id: "bassign-available", type: "checkbox", checked: mine.available, on: { change: async (e) => {
      const on = e.target.checked;
      try {
        build(await request("PUT", `${path(biz.current)}/availability`, { available: on }));
        say(on ? "You take conversations now." : "You are away: round-robin skips you.");
      } catch (err) {
        e.target.checked = !on;
        say(err.message, true);
      }
    } } }), "I take conversations now") : null;

  const rows = view.agents.map((a) => h("tr", { dataset: { handle: a.user.handle } },
    h("th", { attrs: { scope: "row" }, text: nameOf(a.user) }),
    h("td", { text: a.role }),
    h("td", { text: a.available ? "Available" : "Away" }),
    h("td", { text: String(a.open_conversations) }),
    h("td", { text: a.eligible ? "Yes" : "No" })));
  const table = h("table", { id: "bassign-agents", class: "bassign-agents" },
    h("caption", { text: "The team now" }),
    h("thead", {}, h("tr", {}, ...["Teammate", "Role", "Status", "Open", "Next in turn?"].map(
      (t) => h("th", { attrs: { scope: "col" }, text: t })))),
    h("tbody", {}, ...rows));
  byId("business-assignment-body").replaceChildren(form, available || "", table);
}
