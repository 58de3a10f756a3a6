/**
 * The rules editor (`#business-rules`, owners and admins): the business's automation rules
 * in running order — enable or disable each, move it up or down, edit, delete — and a form
 * for one rule: its trigger, conditions (all must hold) and actions, each part's fields
 * generated from the kinds backchannel/domain/rules.py accepts (SPEC below mirrors it).
 * The server checks the whole rule; every mistake of an `invalid_rule` answer
 * (`details.errors: [{path, message}]`) shows next to its field. "Try it" dry-runs the
 * draft against a sample message: which conditions hold (and why), what would run.
 */

import { request } from "../api.js";
import { byId, focusAdrift, h } from "../dom.js";
import { nameOf } from "../render.js";
import { PRIORITIES, PRIORITY_TEXT, STATUSES, STATUS_TEXT, biz, can } from "./business-state.js";
import { confirmAction } from "./report.js";

const enc = encodeURIComponent;
const rulesPath = (b) => `/businesses/${enc(b)}/rules`;

/* What domain/rules.py accepts: each kind's fields `[key, label, kind, options?]`. */
const labelOptions = () => biz.labels.map((l) => [l.id, l.name]);
const TRIGGERS = {
  message_received: { text: "A customer writes", fields: [] },
  conversation_created: { text: "A new conversation starts", fields: [] },
  status_changed: { text: "The status changes", fields: [["to", "To", "select",
    () => [["", "Any status"], ...STATUSES.map((s) => [s, STATUS_TEXT[s]])]]] },
  idle: { text: "The customer waits for an answer", fields: [["minutes", "For (minutes)", "number"]] },
};
const CONDITIONS = {
  keywords: { text: "The message has words", fields: [["words", "Words or phrases (comma-separated)", "words"],
    ["match", "Match", "select", () => [["any", "Any of them"], ["all", "All of them"]]]] },
  regex: { text: "The message matches a pattern", fields: [["pattern", "Regular expression", "text"],
    ["case_sensitive", "Case-sensitive", "check"]] },
  label: { text: "The conversation's label", fields: [["label_id", "Label", "select", labelOptions],
    ["has", "Has it", "select", () => [["true", "Has the label"], ["false", "Does not have it"]]]] },
  attribute: { text: "A contact attribute", fields: [["name", "Attribute", "text"],
    ["op", "Test", "select", () => [["equals", "Equals"], ["contains", "Contains"], ["exists", "Is set"]]],
    ["value", "Value", "text"]] },
  business_hours: { text: "Business hours", fields: [["is", "The business is", "select",
    () => [["open", "Open"], ["closed", "Closed"]]]] },
  first_message: { text: "First message", fields: [["is", "It is", "select",
    () => [["true", "The customer's first message"], ["false", "Not their first message"]]]] },
};
const ACTIONS = {
  reply: { text: "Reply with a saved reply", fields: [["saved_reply_id", "Saved reply", "select",
    () => savedReplies.map((r) => [r.id, `/${r.shortcut} ${r.title || ""}`.trim()])]] },
  label: { text: "Add a label", fields: [["label_id", "Label", "select", labelOptions]] },
  assign: { text: "Assign", fields: [["to", "To", "select", () => [["round_robin", "Round-robin"],
    ...biz.members.filter((m) => m.role !== "viewer").map((m) => [m.user.handle, nameOf(m.user)])]]] },
  priority: { text: "Set the priority", fields: [["priority", "Priority", "select",
    () => PRIORITIES.map((p) => [p, PRIORITY_TEXT[p]])]] },
  resolve: { text: "Resolve", fields: [] },
  snooze: { text: "Snooze", fields: [["minutes", "For (minutes)", "number"]] },
  webhook: { text: "Tell the webhooks (rule.webhook)", fields: [] },
};

let rules = [];
let savedReplies = [];
/** The rule being edited: `{id (null: new), name, enabled, stop, trigger, conditions, actions}`. */
let draft = null;

export function initRules() {
  const dialog = byId("business-rules");
  byId("business-rules-open").addEventListener("click", openRules);
  byId("business-rules-close").addEventListener("click", () => dialog.close());
  dialog.addEventListener("close", () => { draft = null; if (focusAdrift(dialog)) byId("business-rules-open").focus(); });
  dialog.addEventListener("click", (e) => { if (e.target === dialog) dialog.close(); });
}

/** The head's button: for owners and admins (`manage_automation`). */
export function renderRulesButton() {
  byId("business-rules-open").hidden = !can("manage_automation");
}

function say(text, error = false) {
  const status = byId("business-rules-status");
  status.textContent = text;
  status.classList.toggle("error", error);
}

async function openRules() {
  const dialog = byId("business-rules");
  draft = null;
  say("");
  byId("business-rules-body").replaceChildren(h("p", { class: "hint", text: "Loading…" }));
  if (!dialog.open) dialog.showModal();
  byId("business-rules-close").focus();
  const handle = biz.current;
  try {
    const [list, replies] = await Promise.all([request("GET", rulesPath(handle)),
      request("GET", `/businesses/${enc(handle)}/saved-replies`).catch(() => ({ items: [] }))]);
    if (biz.current !== handle) return;
    rules = list.items || [];
    savedReplies = replies.items || [];
  } catch (err) {
    say(err.message, true);
  }
  renderList();
}

/* The list */

function triggerText(t) {
  if (!t) return "";
  if (t.type === "status_changed") return t.to ? `The status changes to ${STATUS_TEXT[t.to]}` : TRIGGERS.status_changed.text;
  if (t.type === "idle") return `The customer waits ${t.minutes} min for an answer`;
  return TRIGGERS[t.type]?.text || t.type;
}

function renderList(focusId = null, focusWhat = "edit") {
  const list = h("ol", { id: "brules-list", class: "rule-list", attrs: { "aria-label": "Rules, in running order" } });
  rules.forEach((rule, index) => {
    const n = rule.conditions.length;
    const summary = `${triggerText(rule.trigger)} · ${n ? `${n} condition${n > 1 ? "s" : ""}` : "always"} · `
      + `${rule.actions.length} action${rule.actions.length > 1 ? "s" : ""}${rule.stop ? " · then stops" : ""}`;
    const toggle = h("input", { type: "checkbox", checked: rule.enabled, dataset: { what: "enabled" },
      on: { change: () => change(rule, { enabled: toggle.checked }, "enabled") } });
    list.append(h("li", { class: `rule${rule.enabled ? "" : " disabled"}`, dataset: { id: rule.id } },
      h("div", { class: "rule-main" }, h("span", { class: "rule-name", text: rule.name }),
        h("span", { class: "hint rule-summary", text: summary })),
      h("label", { class: "check" }, toggle, " Enabled"),
      h("div", { class: "rule-buttons" },
        h("button", { type: "button", text: "↑", disabled: index === 0, dataset: { what: "up" },
          attrs: { "aria-label": `Move ${rule.name} up` }, on: { click: () => change(rule, { position: index - 1 }, "up") } }),
        h("button", { type: "button", text: "↓", disabled: index === rules.length - 1, dataset: { what: "down" },
          attrs: { "aria-label": `Move ${rule.name} down` }, on: { click: () => change(rule, { position: index + 1 }, "down") } }),
        h("button", { type: "button", text: "Edit", dataset: { what: "edit" }, attrs: { "aria-label": `Edit ${rule.name}` },
          on: { click: () => edit(rule) } }),
        h("button", { type: "button", class: "danger", text: "Delete", dataset: { what: "delete" },
          attrs: { "aria-label": `Delete ${rule.name}` }, on: { click: () => remove(rule) } }))));
  });
  if (!rules.length) list.append(h("li", { class: "hint", text: "No rules yet." }));
  byId("business-rules-body").replaceChildren(list,
    h("button", { id: "brules-new", type: "button", class: "primary", text: "New rule", on: { click: () => edit(null) } }));
  if (focusId) {
    const li = list.querySelector(`li[data-id="${CSS.escape(focusId)}"]`);
    const target = li?.querySelector(`[data-what="${focusWhat}"]`);
    (target && !target.disabled ? target : li?.querySelector("[data-what=edit]"))?.focus();
  }
}

async function change(rule, changes, focusWhat) {
  say("");
  try {
    const fresh = await request("PATCH", `${rulesPath(biz.current)}/${enc(rule.id)}`, changes);
    if (changes.position !== undefined) rules = (await request("GET", rulesPath(biz.current))).items || [];
    else rules = rules.map((r) => (r.id === fresh.id ? fresh : r));
    say(changes.enabled === undefined ? `Moved “${fresh.name}” to place ${fresh.position + 1}.`
      : `“${fresh.name}” is ${fresh.enabled ? "on" : "off"}.`);
  } catch (err) {
    say(err.message, true);
  }
  renderList(rule.id, focusWhat);
}

async function remove(rule) {
  const ok = await confirmAction({ title: "Delete this rule?", text: `“${rule.name}” stops running. Its run log goes too.`,
    confirmLabel: "Delete rule", action: () => request("DELETE", `${rulesPath(biz.current)}/${enc(rule.id)}`) });
  if (!ok) return;
  rules = rules.filter((r) => r.id !== rule.id);
  say(`Deleted “${rule.name}”.`);
  renderList();
  byId("brules-new").focus();
}

/* The editor */

function edit(rule) {
  const copy = (x) => JSON.parse(JSON.stringify(x));
  draft = rule ? { id: rule.id, ...copy({ name: rule.name, enabled: rule.enabled, stop: rule.stop, trigger: rule.trigger,
    conditions: rule.conditions, actions: rule.actions }) }
    : { id: null, name: "", enabled: true, stop: false, trigger: { type: "message_received" }, conditions: [],
      actions: [{ type: "label" }] };
  say("");
  renderEditor();
  byId("brule-name").focus();
}

/** An id safe in the DOM for a rule path: `conditions[1].words` → `brule-conditions-1-words`. */
const idOf = (path) => `brule-${path.replace(/[[\].]+/g, "-").replace(/-$/, "")}`;

/** One field of a part: label, control, and the error line its path's mistakes go to. */
function fieldEl(path, [key, label, kind, options], part) {
  const full = path ? `${path}.${key}` : key;
  const id = idOf(full);
  const errorId = `${id}-error`;
  let control;
  const value = part[key];
  if (kind === "select") {
    control = h("select", { id }, ...options().map(([v, t]) => h("option", { value: v, text: t })));
    const wanted = value === undefined || value === null ? "" : String(value);
    if (wanted && ![...control.options].some((o) => o.value === wanted)) control.append(h("option", { value: wanted, text: wanted }));
    control.value = wanted || control.options[0]?.value || "";
  } else if (kind === "check") {
    control = h("input", { id, type: "checkbox", checked: !!value });
  } else if (kind === "number") {
    control = h("input", { id, type: "number", min: 1, step: 1, value: value ?? "" });
  } else {
    control = h("input", { id, autocomplete: "off", spellcheck: false,
      value: kind === "words" ? (value || []).join(", ") : value ?? "" });
  }
  const read = () => {
    if (kind === "check") return control.checked;
    if (kind === "number") return control.value === "" ? null : Number(control.value);
    if (kind === "words") return control.value.split(",").map((w) => w.trim()).filter(Boolean);
    if (control.value === "true" || control.value === "false") return control.value === "true";
    return control.value;
  };
  part[key] = read(); // the shown default is the draft's
  control.addEventListener(kind === "select" || kind === "check" ? "change" : "input", () => { part[key] = read(); });
  control.setAttribute("aria-describedby", errorId);
  const error = h("p", { id: errorId, class: "field-error form-error", dataset: { errorPath: full } });
  return kind === "check"
    ? h("div", { class: "rule-field" }, h("label", { class: "check" }, control, ` ${label}`), error)
    : h("div", { class: "field rule-field" }, h("label", { for: id, text: label }), control, error);
}

/** A trigger, condition or action: its kind, then that kind's fields. */
function partEl(path, title, spec, part, onKind) {
  const typeId = idOf(`${path}.type`);
  const type = h("select", { id: typeId, attrs: { "aria-describedby": `${typeId}-error` } },
    ...Object.entries(spec).map(([k, v]) => h("option", { value: k, text: v.text })));
  type.value = part.type;
  type.addEventListener("change", () => {
    for (const key of Object.keys(part)) delete part[key];
    part.type = type.value;
    onKind();
    byId(typeId).focus();
  });
  const fields = (spec[part.type]?.fields || []).map((f) => fieldEl(path, f, part));
  return [h("div", { class: "field rule-field" }, h("label", { for: typeId, text: title }), type,
    h("p", { id: `${typeId}-error`, class: "field-error form-error", dataset: { errorPath: `${path}.type` } })), ...fields];
}

function listEl(key, title, spec, noun, make) {
  const items = draft[key];
  const box = h("fieldset", { class: "rule-parts", dataset: { part: key } }, h("legend", { text: title }));
  items.forEach((part, index) => {
    const path = `${key}[${index}]`;
    const row = h("div", { class: "rule-part", attrs: { role: "group", "aria-label": `${noun} ${index + 1}` } },
      ...partEl(path, `${noun} ${index + 1}`, spec, part, rerender),
      h("button", { type: "button", class: "ghost danger", text: "Remove", attrs: { "aria-label": `Remove ${noun.toLowerCase()} ${index + 1}` },
        on: { click: () => { items.splice(index, 1); rerender(); byId(`brule-add-${key}`).focus(); } } }),
      h("p", { class: "field-error form-error", dataset: { errorPath: path } }));
    box.append(row);
  });
  box.append(h("p", { class: "field-error form-error", dataset: { errorPath: key } }),
    h("button", { id: `brule-add-${key}`, type: "button", text: `Add ${noun.toLowerCase()}`,
      on: { click: () => { items.push(make()); rerender(); byId(idOf(`${key}[${items.length - 1}].type`)).focus(); } } }));
  return box;
}

/** Build the form again from the draft (a kind changed, a part came or went). */
function rerender() {
  const scroll = byId("business-rules").scrollTop;
  renderEditor();
  byId("business-rules").scrollTop = scroll;
}

function renderEditor() {
  const name = fieldEl("", ["name", "Name", "text"], draft);
  const trigger = h("fieldset", { class: "rule-parts" }, h("legend", { text: "When" }),
    ...partEl("trigger", "Trigger", TRIGGERS, draft.trigger, rerender));
  const flags = h("div", { class: "rule-flags" },
    fieldEl("", ["enabled", "Enabled", "check"], draft), fieldEl("", ["stop", "Then stop: no later rule runs", "check"], draft));
  const sample = h("textarea", { id: "brule-sample", rows: 2, maxLength: 10000 });
  const first = h("input", { id: "brule-sample-first", type: "checkbox" });
  const form = h("form", { id: "brule-form", class: "rule-form", noValidate: true, attrs: { "aria-labelledby": "brule-form-title" } },
    h("h3", { id: "brule-form-title", text: draft.id ? `Edit “${rules.find((r) => r.id === draft.id)?.name || draft.name}”` : "New rule" }),
    name, trigger,
    listEl("conditions", "If (all must hold)", CONDITIONS, "Condition", () => ({ type: "keywords" })),
    listEl("actions", "Then", ACTIONS, "Action", () => ({ type: "label" })),
    flags,
    h("ul", { id: "brule-errors", class: "form-error rule-errors", attrs: { role: "alert" } }),
    h("div", { class: "dialog-buttons" },
      h("button", { id: "brule-cancel", type: "button", text: "Cancel", on: { click: cancel } }),
      h("button", { id: "brule-save", type: "submit", class: "primary", text: draft.id ? "Save rule" : "Create rule" })),
    h("section", { class: "rule-try", attrs: { "aria-labelledby": "brule-try-title" } },
      h("h3", { id: "brule-try-title", text: "Try it" }),
      h("div", { class: "field" }, h("label", { for: "brule-sample", text: "A customer's message" }), sample),
      h("label", { class: "check" }, first, " As their first message"),
      h("button", { id: "brule-try", type: "button", text: "Try it", on: { click: () => tryIt(sample.value, first.checked) } }),
      h("div", { id: "brule-result", class: "rule-result", attrs: { "aria-live": "polite" } })));
  form.addEventListener("submit", (e) => { e.preventDefault(); save(); });
  form.addEventListener("keydown", (e) => { if (e.key === "Escape") { e.preventDefault(); e.stopPropagation(); cancel(); } });
  byId("business-rules-body").replaceChildren(form);
}

function cancel() {
  const id = draft?.id;
  draft = null;
  renderList(id);
  if (!id) byId("brules-new").focus();
}

/** The draft as the API takes it (a trigger's and each part's own fields only). */
function body() {
  const pick = (part, spec) => {
    const out = { type: part.type };
    for (const [key] of spec[part.type]?.fields || []) {
      if (part[key] === null || part[key] === undefined || part[key] === "") continue;
      if (part.type === "attribute" && key === "value" && part.op === "exists") continue;
      out[key] = part[key];
    }
    return out;
  };
  return { name: draft.name, enabled: draft.enabled, stop: draft.stop, trigger: pick(draft.trigger, TRIGGERS),
    conditions: draft.conditions.map((c) => pick(c, CONDITIONS)), actions: draft.actions.map((a) => pick(a, ACTIONS)) };
}

/** Put each mistake next to its field (or the nearest part that has a place for it). */
function showErrors(errors) {
  const form = byId("brule-form");
  for (const p of form.querySelectorAll("[data-error-path]")) p.textContent = "";
  for (const c of form.querySelectorAll("[aria-invalid]")) c.removeAttribute("aria-invalid");
  const rest = [];
  for (const { path, message } of errors) {
    // `conditions[1].words[0]`, else `conditions[1].words`, else `conditions[1]`, else `conditions`
    let place = null;
    for (let at = path; at && !place; at = at.replace(/(\.[^.[\]]+|\[\d+\])$/, "")) {
      place = form.querySelector(`[data-error-path="${CSS.escape(at)}"]`);
      if (!/(\.[^.[\]]+|\[\d+\])$/.test(at)) break;
    }
    if (!place) { rest.push(`${path}: ${message}`); continue; }
    place.textContent = place.textContent ? `${place.textContent} ${message}` : message;
    const control = place.id ? form.querySelector(`[aria-describedby="${CSS.escape(place.id)}"]`) : null;
    control?.setAttribute("aria-invalid", "true");
  }
  byId("brule-errors").replaceChildren(...rest.map((t) => h("li", { text: t })));
  const firstBad = form.querySelector("[aria-invalid=true]");
  firstBad?.focus();
}

async function save() {
  const handle = biz.current;
  const button = byId("brule-save");
  button.disabled = true;
  showErrors([]);
  try {
    const saved = draft.id
      ? await request("PATCH", `${rulesPath(handle)}/${enc(draft.id)}`, body())
      : await request("POST", rulesPath(handle), body());
    rules = draft.id ? rules.map((r) => (r.id === saved.id ? saved : r)) : [...rules, saved];
    draft = null;
    say(`Saved “${saved.name}”.`);
    renderList(saved.id);
  } catch (err) {
    button.disabled = false;
    const errors = err.details?.errors;
    if (err.code === "invalid_rule" && Array.isArray(errors)) showErrors(errors);
    else byId("brule-errors").replaceChildren(h("li", { text: err.message }));
  }
}

/** What an action would do, in words. */
function actionText(a) {
  switch (a.type) {
    case "reply": {
      const r = savedReplies.find((x) => x.id === a.saved_reply_id);
      return `Reply with the saved reply ${r ? `/${r.shortcut}` : a.saved_reply_id}`;
    }
    case "label": return `Add the label “${biz.labels.find((l) => l.id === a.label_id)?.name || a.label_id}”`;
    case "assign": return a.to === "round_robin" ? "Assign by round-robin" : `Assign to @${a.to}`;
    case "priority": return `Set the priority to ${PRIORITY_TEXT[a.priority] || a.priority}`;
    case "resolve": return "Resolve the conversation";
    case "snooze": return `Snooze it for ${a.minutes} min`;
    case "webhook": return "Tell the webhooks (rule.webhook)";
    default: return a.type;
  }
}

async function tryIt(text, first) {
  const result = byId("brule-result");
  showErrors([]);
  if (!text.trim()) { result.replaceChildren(h("p", { class: "form-error", text: "Write a sample message first." })); byId("brule-sample").focus(); return; }
  try {
    const run = await request("POST", `${rulesPath(biz.current)}/dry-run`, { rule: body(), text, first_message: first });
    const condition = (c) => h("li", { class: c.matched ? "matched" : "unmatched" },
      `${c.matched ? "✓" : "✗"} ${CONDITIONS[c.type]?.text || c.type} — ${c.reason}`);
    result.replaceChildren(
      h("p", { class: "rule-verdict", text: run.matched ? "It matches." : "It does not match: nothing would happen." }),
      run.conditions.length ? h("ul", { class: "rule-conditions", attrs: { "aria-label": "Conditions" } }, ...run.conditions.map(condition))
        : h("p", { class: "hint", text: "No conditions: it matches every time it is triggered." }),
      run.actions.length ? h("ol", { class: "rule-actions", attrs: { "aria-label": "What would happen" } },
        ...run.actions.map((a) => h("li", { text: actionText(a) }))) : null);
  } catch (err) {
    const errors = err.details?.errors;
    if (err.code === "invalid_rule" && Array.isArray(errors)) { showErrors(errors); result.replaceChildren(h("p", { class: "form-error", text: "Fix the rule first." })); }
    else result.replaceChildren(h("p", { class: "form-error", text: err.message }));
  }
}
