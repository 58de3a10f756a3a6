/**
 * Saved views of the team inbox (`#business-views`): a named set of filters, one's own or
 * (owners and admins) shared with the team — GET/POST/PATCH/DELETE …/views. Picking a view
 * sets the filters to its own and lists with `?view=` (services/inbox_views.py); touching a
 * filter afterwards leaves the view (the filters shown are then what is listed). "Save
 * view" names the current filters; a view one may change can be renamed or deleted.
 */

import { request } from "../api.js";
import { byId, h } from "../dom.js";
import { biz, can } from "./business-state.js";
import { confirmAction } from "./report.js";

const enc = encodeURIComponent;
/** The current business's views, shared ones first (as the server orders them). */
let views = [];
/** Set by initViews: business.js's setFilter (apply a filter change, list again). */
let setFilter = () => {};
/** What the form does: "save" (a new view) or "rename" (the picked one), or null (closed). */
let formMode = null;

const viewsPath = (b) => `/businesses/${enc(b)}/views`;

/** @param {(change: object) => void} applyFilters business.js's filter change */
export function initViews(applyFilters) {
  setFilter = applyFilters;
  const box = byId("business-views");
  const select = h("select", { id: "bview-select", on: { change: () => pick(select.value) } });
  const form = h("form", { id: "bview-form", class: "bview-form", noValidate: true, hidden: true,
    attrs: { "aria-labelledby": "bview-form-title" } },
  h("p", { id: "bview-form-title", class: "bview-form-title", text: "Save the current filters as a view" }),
  h("div", { class: "field" }, h("label", { for: "bview-name", text: "Name" }),
    h("input", { id: "bview-name", maxLength: 60, autocomplete: "off", attrs: { "aria-describedby": "bview-error" } })),
  h("label", { class: "check", id: "bview-shared-row" },
    h("input", { id: "bview-shared", type: "checkbox" }), " Share with the whole team"),
  h("p", { id: "bview-error", class: "form-error", attrs: { role: "alert" } }),
  h("div", { class: "bview-form-buttons" },
    h("button", { id: "bview-cancel", type: "button", text: "Cancel", on: { click: closeForm } }),
    h("button", { id: "bview-submit", class: "primary", type: "submit", text: "Save view" })));
  form.addEventListener("submit", (e) => { e.preventDefault(); submit(); });
  form.addEventListener("keydown", (e) => { if (e.key === "Escape") { e.preventDefault(); closeForm(); } });
  box.replaceChildren(
    h("div", { class: "bview-row" },
      h("label", { for: "bview-select", text: "View" }), select,
      h("button", { id: "bview-save", type: "button", class: "ghost", text: "Save view", attrs: { "aria-expanded": "false",
        "aria-controls": "bview-form" }, on: { click: () => openForm("save") } }),
      h("button", { id: "bview-rename", type: "button", class: "ghost", text: "Rename", hidden: true,
        on: { click: () => openForm("rename") } }),
      h("button", { id: "bview-delete", type: "button", class: "ghost danger", text: "Delete", hidden: true,
        on: { click: remove } })),
    form,
    h("p", { id: "bview-status", class: "status", attrs: { role: "status" } }));
  // Capture: before business.js's own handlers list again, a touched filter leaves the view.
  const leave = (e) => {
    if (!biz.filters.view) return;
    const controls = e.type === "click" ? ".business-tabs [data-status]" : ".business-filters select, .business-filters input";
    if (!e.target.closest(controls)) return;
    biz.filters.view = "";
    biz.filters.waiting_minutes = null;
    render();
  };
  byId("business-inbox").addEventListener("change", leave, true);
  byId("business-inbox").addEventListener("click", leave, true);
}

/** A business is shown (or none): forget the last one's views, fetch this one's. */
export function resetViews() {
  views = [];
  biz.filters.view = "";
  biz.filters.waiting_minutes = null;
  closeForm(false);
  render();
  if (biz.current) loadViews();
}

async function loadViews() {
  const handle = biz.current;
  try {
    const reply = await request("GET", viewsPath(handle));
    if (biz.current !== handle) return;
    views = reply.items || [];
    say("");
  } catch (err) {
    say(err.message, true);
  }
  render();
}

/** Whether my role may rename or delete this view (my own; shared ones: owners, admins). */
const mayChange = (view) => !!view && (!view.shared || can("share_views"));
const picked = () => views.find((v) => v.id === biz.filters.view);

function render() {
  const select = byId("bview-select");
  const shared = views.filter((v) => v.shared);
  const own = views.filter((v) => !v.shared);
  const group = (label, list) => list.length
    ? h("optgroup", { label }, ...list.map((v) => h("option", { value: v.id, text: v.name }))) : null;
  select.replaceChildren(h("option", { value: "", text: "No view" }),
    ...[group("Shared with the team", shared), group("My views", own)].filter(Boolean));
  select.value = picked() ? biz.filters.view : "";
  const view = picked();
  byId("bview-rename").hidden = !mayChange(view);
  byId("bview-delete").hidden = !mayChange(view);
  if (view) {
    byId("bview-rename").setAttribute("aria-label", `Rename the view ${view.name}`);
    byId("bview-delete").setAttribute("aria-label", `Delete the view ${view.name}`);
  }
}

/** Pick a view ("" none): its filters become the inbox's, and it is listed with `?view=`. */
function pick(id) {
  const view = views.find((v) => v.id === id);
  closeForm(false);
  if (!view) {
    biz.filters.view = "";
    biz.filters.waiting_minutes = null;
    render();
    setFilter({});
    return;
  }
  const f = view.filters || {};
  const change = { view: view.id, status: f.status || "all", assignee: f.assignee || "", label: f.label || "",
    priority: f.priority || "", unread: !!f.unread, waiting_minutes: f.waiting_minutes ?? null };
  showControls(change);
  setFilter(change);
  render();
  say(f.waiting_minutes ? `${view.name}: waiting at least ${f.waiting_minutes} min.` : "");
}

/** Make the filter controls show the view's filters (a teammate's handle gets its option). */
function showControls(f) {
  const assignee = byId("business-filter-assignee");
  if (f.assignee && ![...assignee.options].some((o) => o.value === f.assignee)) {
    assignee.append(h("option", { value: f.assignee, text: `Assigned to @${f.assignee}` }));
  }
  assignee.value = f.assignee;
  byId("business-filter-label").value = f.label;
  byId("business-filter-priority").value = f.priority;
  byId("business-filter-unread").checked = f.unread;
}

/** The current filters as a view's (only those that narrow the list). */
function currentFilters() {
  const f = biz.filters;
  const out = {};
  if (f.status && f.status !== "all") out.status = f.status;
  if (f.assignee) out.assignee = f.assignee;
  if (f.label) out.label = f.label;
  if (f.priority) out.priority = f.priority;
  if (f.unread) out.unread = true;
  if (f.waiting_minutes) out.waiting_minutes = f.waiting_minutes;
  return out;
}

function openForm(mode) {
  const view = picked();
  if (mode === "rename" && !view) return;
  formMode = mode;
  byId("bview-form").hidden = false;
  byId("bview-save").setAttribute("aria-expanded", "true");
  byId("bview-form-title").textContent = mode === "rename" ? `Rename the view “${view.name}”` : "Save the current filters as a view";
  byId("bview-submit").textContent = mode === "rename" ? "Rename" : "Save view";
  byId("bview-name").value = mode === "rename" ? view.name : "";
  byId("bview-shared-row").hidden = mode === "rename" || !can("share_views");
  byId("bview-shared").checked = false;
  byId("bview-error").textContent = "";
  byId("bview-name").focus();
}

function closeForm(refocus = true) {
  const wasOpen = formMode !== null;
  formMode = null;
  byId("bview-form").hidden = true;
  byId("bview-save").setAttribute("aria-expanded", "false");
  if (refocus && wasOpen) byId("bview-select").focus();
}

async function submit() {
  const name = byId("bview-name").value.trim();
  const error = byId("bview-error");
  if (!name) { error.textContent = "Name the view first."; byId("bview-name").focus(); return; }
  const handle = biz.current;
  const button = byId("bview-submit");
  button.disabled = true;
  error.textContent = "";
  try {
    if (formMode === "rename") {
      const view = picked();
      const fresh = await request("PATCH", `${viewsPath(handle)}/${enc(view.id)}`, { name });
      views = views.map((v) => (v.id === fresh.id ? fresh : v));
      say(`Renamed to “${fresh.name}”.`);
    } else {
      const shared = can("share_views") && byId("bview-shared").checked;
      const made = await request("POST", viewsPath(handle), { name, filters: currentFilters(), shared });
      views = [...views.filter((v) => v.shared), ...(made.shared ? [made] : []), ...views.filter((v) => !v.shared),
        ...(made.shared ? [] : [made])];
      biz.filters.view = made.id;
      biz.filters.waiting_minutes = made.filters.waiting_minutes ?? null;
      say(`Saved the view “${made.name}”${made.shared ? ", shared with the team" : ""}.`);
    }
    if (biz.current !== handle) return;
    closeForm();
    render();
  } catch (err) {
    error.textContent = err.message;
  } finally {
    button.disabled = false;
  }
}

async function remove() {
  const view = picked();
  if (!view) return;
  const handle = biz.current;
  const ok = await confirmAction({
    title: "Delete this view?",
    text: `“${view.name}” goes${view.shared ? " for the whole team" : ""}. The conversations stay as they are.`,
    confirmLabel: "Delete view",
    action: () => request("DELETE", `${viewsPath(handle)}/${enc(view.id)}`),
  });
  if (!ok || biz.current !== handle) return;
  views = views.filter((v) => v.id !== view.id);
  biz.filters.view = "";
  biz.filters.waiting_minutes = null;
  render();
  say(`Deleted the view “${view.name}”.`);
  byId("bview-select").focus();
}

function say(text, error = false) {
  const status = byId("bview-status");
  status.textContent = text;
  status.classList.toggle("error", error);
}
