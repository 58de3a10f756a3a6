/**
 * The integrations dialog (`#business-integrations`, owners and admins, from the head's
 * "Integrations" button): the business's webhooks — create one with its URL and events
 * (its signing secret shown once, with a copy button), turn it on or off, rotate its
 * secret, send a test ping, read its delivery log (each delivery's state and attempts)
 * and redeliver — and its API tokens: create one with a name and a role (the token shown
 * once), list them, revoke one. A webhook the server turns off after too many failures
 * shows as off, live (`business.webhook_disabled`).
 */

import { request } from "../api.js";
import { byId, focusAdrift, h } from "../dom.js";
import { longTime, nameOf } from "../render.js";
import { biz, membership } from "./business-state.js";
import { confirmAction } from "./report.js";

const enc = encodeURIComponent;
const hooksPath = (b) => `/businesses/${enc(b)}/webhooks`;
const tokensPath = (b) => `/businesses/${enc(b)}/tokens`;
/** The roles that manage integrations (domain/business.py `manage_integrations`). */
const MANAGERS = ["owner", "admin"];
/** The events a webhook may subscribe to (api/schemas.py `WebhookEvent`), with their meaning. */
const EVENTS = [
  ["conversation.created", "A conversation entered the inbox"],
  ["message.received", "The customer wrote"],
  ["message.sent", "The business wrote"],
  ["conversation.status_changed", "A status changed"],
  ["conversation.assigned", "An assignee changed"],
  ["csat.received", "A customer rated the conversation"],
  ["rule.webhook", "A rule's webhook action ran"],
];
const ROLE_TEXT = { agent: "Agent", admin: "Admin", viewer: "Viewer" };
const STATE_TEXT = { pending: "Pending", delivered: "Delivered", failed: "Failed" };
const POLL_MS = 1500;

let webhooks = [];
let tokens = [];
/** The webhook whose delivery log is open, its deliveries, and the poll while some are pending. */
let logOf = null;
let deliveries = [];
let poll = null;

const canManage = () => MANAGERS.includes(membership()?.role);

export function initIntegrations() {
  const dialog = h("dialog", { id: "business-integrations", class: "settings panel business-integrations",
    attrs: { "aria-labelledby": "business-integrations-title" } },
  h("div", { class: "settings-head" },
    h("h2", { id: "business-integrations-title", text: "Integrations" }),
    h("button", { id: "business-integrations-close", type: "button", class: "ghost", text: "Close",
      attrs: { "aria-label": "Close the integrations" }, on: { click: () => dialog.close() } }),
    h("p", { id: "business-integrations-status", class: "status settings-status", attrs: { role: "status", "aria-live": "polite" } })),
  h("div", { id: "business-integrations-body" }));
  document.body.append(dialog);
  const open = h("button", { id: "business-integrations-open", type: "button", class: "ghost", text: "Integrations", hidden: true,
    attrs: { "aria-haspopup": "dialog" }, on: { click: openIntegrations } });
  document.querySelector(".business-head").append(open);
  dialog.addEventListener("close", () => { closeLog(); if (focusAdrift(dialog)) open.focus(); });
  dialog.addEventListener("click", (e) => { if (e.target === dialog) dialog.close(); });
}

/** The head's button: for owners and admins (called when the head is drawn). */
export function renderIntegrationsButton() {
  byId("business-integrations-open").hidden = !canManage();
}

function say(text, error = false) {
  const status = byId("business-integrations-status");
  status.textContent = text;
  status.classList.toggle("error", error);
}

async function openIntegrations() {
  const dialog = byId("business-integrations");
  const handle = biz.current;
  closeLog();
  say("Loading…");
  byId("business-integrations-body").replaceChildren();
  if (!dialog.open) dialog.showModal();
  byId("business-integrations-close").focus();
  try {
    const [hooks, list] = await Promise.all([request("GET", hooksPath(handle)), request("GET", tokensPath(handle))]);
    if (biz.current !== handle) return;
    webhooks = hooks.items || [];
    tokens = list.items || [];
    build();
    say("");
  } catch (err) {
    say(err.message, true);
  }
}

const field = (id, label, control) => h("div", { class: "field" }, h("label", { for: id, text: label }), control);

function build() {
  byId("business-integrations-body").replaceChildren(
    h("section", { class: "settings-section", attrs: { "aria-labelledby": "bint-webhooks-title" } },
      h("h3", { id: "bint-webhooks-title", text: "Webhooks" }),
      h("p", { class: "hint", text: "Another system hears what happens in the inbox: a signed POST for each event." }),
      h("ul", { id: "bint-webhooks", class: "bint-list", attrs: { "aria-labelledby": "bint-webhooks-title" } }),
      h("div", { id: "bint-webhook-secret-box" }),
      h("form", { id: "bint-webhook-form", class: "bint-form", noValidate: true, attrs: { "aria-labelledby": "bint-webhook-form-title" },
        on: { submit: (e) => { e.preventDefault(); createWebhook(); } } },
      h("h4", { id: "bint-webhook-form-title", text: "Add a webhook" }),
      field("bint-webhook-url", "Endpoint URL", h("input", { id: "bint-webhook-url", type: "url", placeholder: "https://…",
        autocomplete: "off", spellcheck: false, maxLength: 2000 })),
      h("fieldset", { id: "bint-webhook-events", class: "bint-events" }, h("legend", { text: "Events" }),
        ...EVENTS.map(([type, text]) => h("label", { class: "check" },
          h("input", { type: "checkbox", value: type, dataset: { event: type } }), ` ${text} `,
          h("code", { class: "hint", text: type })))),
      field("bint-webhook-description", "Description (optional)", h("input", { id: "bint-webhook-description", maxLength: 200 })),
      h("p", { id: "bint-webhook-error", class: "form-error", attrs: { role: "alert" } }),
      h("button", { id: "bint-webhook-create", type: "submit", class: "primary", text: "Add webhook" }))),
    h("section", { class: "settings-section", attrs: { "aria-labelledby": "bint-tokens-title" } },
      h("h3", { id: "bint-tokens-title", text: "API tokens" }),
      h("p", { class: "hint", text: "For bots and integrations: a token acts as the business with its role, on this business only." }),
      h("ul", { id: "bint-tokens", class: "bint-list", attrs: { "aria-labelledby": "bint-tokens-title" } }),
      h("div", { id: "bint-token-secret-box" }),
      h("form", { id: "bint-token-form", class: "bint-form", noValidate: true, attrs: { "aria-labelledby": "bint-token-form-title" },
        on: { submit: (e) => { e.preventDefault(); createToken(); } } },
      h("h4", { id: "bint-token-form-title", text: "Create a token" }),
      field("bint-token-name", "Name", h("input", { id: "bint-token-name", maxLength: 200, autocomplete: "off" })),
      field("bint-token-role", "Role", h("select", { id: "bint-token-role" },
        ...["agent", "viewer", "admin"].map((r) => h("option", { value: r, text: ROLE_TEXT[r] })))),
      h("p", { id: "bint-token-error", class: "form-error", attrs: { role: "alert" } }),
      h("button", { id: "bint-token-create", type: "submit", class: "primary", text: "Create token" }))));
  renderWebhooks();
  renderTokens();
}

/* Shown once: a secret or a token, with a copy button */

function showOnce(boxId, label, value) {
  const input = h("input", { id: `${boxId}-value`, class: "bint-secret", readOnly: true, value, spellcheck: false });
  const status = h("span", { class: "hint", attrs: { role: "status" } });
  const copy = h("button", { id: `${boxId}-copy`, type: "button", text: "Copy", on: { click: async () => {
    try {
      await navigator.clipboard.writeText(value);
      status.textContent = "Copied.";
    } catch {
      input.select(); // no clipboard here (permissions): selected, to copy by hand
      status.textContent = "Selected: press Ctrl+C (⌘C) to copy.";
    }
  } } });
  const box = byId(boxId);
  box.replaceChildren(h("div", { class: "bint-once", attrs: { role: "group", "aria-labelledby": `${boxId}-label` } },
    h("label", { id: `${boxId}-label`, for: input.id, text: label }),
    h("div", { class: "bint-once-row" }, input, copy,
      h("button", { type: "button", class: "ghost", text: "Done", on: { click: () => box.replaceChildren() } })),
    status));
  copy.focus();
}

/* Webhooks */

function renderWebhooks(focusId = null, focusWhat = null) {
  const list = document.getElementById("bint-webhooks");
  if (!list) return;
  const manage = canManage();
  list.replaceChildren(...webhooks.map((w) => {
    const on = h("input", { type: "checkbox", checked: w.enabled, dataset: { what: "enabled" }, disabled: !manage,
      on: { change: () => patchWebhook(w, { enabled: on.checked }, "enabled") } });
    const open = logOf === w.id;
    return h("li", { class: `bint-item${w.enabled ? "" : " disabled"}`, dataset: { id: w.id, enabled: String(w.enabled) } },
      h("div", { class: "bint-main" },
        h("span", { class: "bint-url", text: w.url }),
        w.description ? h("span", { class: "bint-description", text: w.description }) : null,
        h("span", { class: "hint", text: w.events.join(", ") }),
        h("span", { class: "hint bint-state", text: stateText(w) })),
      h("label", { class: "check" }, on, " On"),
      h("div", { class: "bint-buttons" },
        h("button", { type: "button", text: "Send test", dataset: { what: "test" }, disabled: !w.enabled,
          attrs: { "aria-label": `Send a test ping to ${w.url}` }, on: { click: () => testWebhook(w) } }),
        h("button", { type: "button", text: open ? "Hide deliveries" : "Deliveries", dataset: { what: "log" },
          attrs: { "aria-expanded": String(open), "aria-controls": `bint-log-${w.id}` }, on: { click: () => toggleLog(w.id) } }),
        h("button", { type: "button", text: "Rotate secret", dataset: { what: "rotate" },
          attrs: { "aria-label": `Rotate the secret of ${w.url}` }, on: { click: () => rotate(w) } }),
        h("button", { type: "button", class: "danger", text: "Delete", dataset: { what: "delete" },
          attrs: { "aria-label": `Delete the webhook ${w.url}` }, on: { click: () => removeWebhook(w) } })),
      open ? logEl(w) : null);
  }));
  if (!webhooks.length) list.append(h("li", { class: "hint", text: "No webhooks yet." }));
  if (focusId) list.querySelector(`li[data-id="${CSS.escape(focusId)}"] [data-what="${focusWhat}"]`)?.focus();
}

/** "On · 1 failed in a row", "Off — why the server turned it off". */
function stateText(w) {
  const state = w.enabled ? "On" : `Off${w.disabled_reason ? ` — ${w.disabled_reason}` : ""}`;
  return `${state}${w.failures ? ` · ${w.failures} failed in a row` : ""}`;
}

/** Show a webhook's fresh state in its row, leaving the rest (and the focus) as it is. */
function renderWebhookState(w) {
  const li = document.querySelector(`#bint-webhooks li[data-id="${CSS.escape(w.id)}"]`);
  if (!li) return;
  li.dataset.enabled = String(w.enabled);
  li.classList.toggle("disabled", !w.enabled);
  li.querySelector(".bint-state").textContent = stateText(w);
  li.querySelector("[data-what=enabled]").checked = w.enabled;
  li.querySelector("[data-what=test]").disabled = !w.enabled;
}

async function createWebhook() {
  const error = byId("bint-webhook-error");
  const url = byId("bint-webhook-url").value.trim();
  const events = [...byId("bint-webhook-events").querySelectorAll("input:checked")].map((c) => c.value);
  error.textContent = "";
  if (!url) { error.textContent = "Give the endpoint's URL."; byId("bint-webhook-url").focus(); return; }
  if (!events.length) {
    error.textContent = "Choose at least one event.";
    byId("bint-webhook-events").querySelector("input").focus();
    return;
  }
  const description = byId("bint-webhook-description").value.trim();
  const button = byId("bint-webhook-create");
  button.disabled = true;
  try {
    const { secret, ...made } = await request("POST", hooksPath(biz.current), { url, events, ...(description ? { description } : {}) });
    webhooks = [...webhooks, made];
    byId("bint-webhook-url").value = "";
    byId("bint-webhook-description").value = "";
    for (const c of byId("bint-webhook-events").querySelectorAll("input")) c.checked = false;
    renderWebhooks();
    say(`Added the webhook for ${made.url}.`);
    showOnce("bint-webhook-secret-box", "Its signing secret — shown only now: keep it where your endpoint checks signatures", secret);
  } catch (err) {
    error.textContent = err.message;
    byId("bint-webhook-url").focus();
  } finally {
    button.disabled = false;
  }
}

async function patchWebhook(w, changes, focusWhat) {
  try {
    const fresh = await request("PATCH", `${hooksPath(biz.current)}/${enc(w.id)}`, changes);
    webhooks = webhooks.map((x) => (x.id === fresh.id ? fresh : x));
    say(`The webhook for ${fresh.url} is ${fresh.enabled ? "on" : "off"}.`);
  } catch (err) {
    say(err.message, true);
  }
  renderWebhooks(w.id, focusWhat);
}

async function rotate(w) {
  let fresh = null;
  const ok = await confirmAction({ title: "Rotate the signing secret?",
    text: `Deliveries to ${w.url} are signed with a new secret from now on; the old one signs nothing more.`,
    confirmLabel: "Rotate secret",
    action: async () => { fresh = await request("POST", `${hooksPath(biz.current)}/${enc(w.id)}/rotate-secret`); } });
  if (!ok || !fresh) return;
  const { secret, ...hook } = fresh;
  webhooks = webhooks.map((x) => (x.id === hook.id ? hook : x));
  renderWebhooks();
  say(`A new secret for ${hook.url}.`);
  showOnce("bint-webhook-secret-box", "The new signing secret — shown only now", secret);
}

async function removeWebhook(w) {
  const ok = await confirmAction({ title: "Delete this webhook?",
    text: `${w.url} gets nothing more; its delivery log and what is still queued for it go too.`, confirmLabel: "Delete webhook",
    action: () => request("DELETE", `${hooksPath(biz.current)}/${enc(w.id)}`) });
  if (!ok) return;
  webhooks = webhooks.filter((x) => x.id !== w.id);
  if (logOf === w.id) closeLog();
  say(`Deleted the webhook for ${w.url}.`);
  renderWebhooks();
  byId("bint-webhook-url").focus();
}

async function testWebhook(w) {
  try {
    await request("POST", `${hooksPath(biz.current)}/${enc(w.id)}/test`);
    say(`Sent a test ping to ${w.url}.`);
    if (logOf !== w.id) toggleLog(w.id, "test");
    else loadLog();
  } catch (err) {
    say(err.message, true);
  }
}

/* The delivery log */

function closeLog() {
  logOf = null;
  deliveries = [];
  clearTimeout(poll);
  poll = null;
}

function toggleLog(id, focusWhat = "log") {
  const opening = logOf !== id;
  closeLog();
  if (opening) logOf = id;
  renderWebhooks(id, focusWhat);
  if (opening) loadLog();
}

async function loadLog() {
  const id = logOf;
  clearTimeout(poll);
  try {
    const [page, hooks] = await Promise.all([request("GET", `${hooksPath(biz.current)}/${enc(id)}/deliveries?limit=50`),
      request("GET", hooksPath(biz.current))]); // its failure count follows the deliveries
    if (logOf !== id) return;
    deliveries = page.items;
    webhooks = webhooks.map((w) => hooks.items.find((x) => x.id === w.id) || w);
    const fresh = webhooks.find((w) => w.id === id);
    if (fresh) renderWebhookState(fresh);
  } catch (err) {
    say(err.message, true);
  }
  renderLog();
  // Deliveries happen in the server's job queue: look again while some are still pending.
  if (logOf === id && deliveries.some((d) => d.state === "pending")) poll = setTimeout(loadLog, POLL_MS);
}

function logEl(w) {
  return h("div", { id: `bint-log-${w.id}`, class: "bint-log" },
    h("ul", { class: "bint-deliveries", attrs: { "aria-label": `Deliveries to ${w.url}` } }, h("li", { class: "hint", text: "Loading…" })),
    h("button", { type: "button", class: "ghost", text: "Refresh", dataset: { what: "refresh" }, on: { click: loadLog } }));
}

function renderLog() {
  const list = document.querySelector(`#bint-log-${CSS.escape(logOf)} .bint-deliveries`);
  if (!list) return;
  const refocus = list.contains(document.activeElement) ? document.activeElement.closest("li")?.dataset.id : null;
  list.replaceChildren(...deliveries.map((d) => {
    const last = [d.status_code ? `HTTP ${d.status_code}` : null, d.latency_ms !== null ? `${d.latency_ms} ms` : null,
      d.error].filter(Boolean).join(" · ");
    const tries = `${d.attempts.length} attempt${d.attempts.length === 1 ? "" : "s"}`;
    return h("li", { class: `bint-delivery bint-${d.state}`, dataset: { id: d.id, state: d.state, type: d.type } },
      h("span", { class: "bint-delivery-type", text: d.type }),
      h("span", { class: `status-chip bint-delivery-state`, text: STATE_TEXT[d.state] || d.state }),
      h("span", { class: "hint", text: [longTime(d.created_at), tries, last,
        d.next_attempt_at ? `next try ${longTime(d.next_attempt_at)}` : null].filter(Boolean).join(" · ") }),
      h("button", { type: "button", class: "ghost", text: "Redeliver", dataset: { what: "redeliver" },
        attrs: { "aria-label": `Redeliver ${d.type} of ${longTime(d.created_at)}` }, on: { click: () => redeliver(d) } }));
  }));
  if (!deliveries.length) list.append(h("li", { class: "hint", text: "Nothing delivered yet." }));
  if (refocus) list.querySelector(`li[data-id="${CSS.escape(refocus)}"] button`)?.focus();
}

async function redeliver(d) {
  try {
    await request("POST", `${hooksPath(biz.current)}/${enc(logOf)}/deliveries/${enc(d.id)}/redeliver`);
    say(`Sending ${d.type} again.`);
    loadLog();
  } catch (err) {
    say(err.message, true);
  }
}

/** `business.webhook_disabled` from the stream: the server turned a webhook off. */
export function webhookDisabled(d) {
  if (d.business !== biz.current || !d.webhook) return;
  webhooks = webhooks.map((w) => (w.id === d.webhook.id ? d.webhook : w));
  if (byId("business-integrations").open) {
    renderWebhookState(d.webhook);
    say(`The webhook for ${d.webhook.url} failed ${d.failures} times in a row and was turned off.`, true);
  }
}

/* API tokens */

function renderTokens(focusId = null) {
  const list = document.getElementById("bint-tokens");
  if (!list) return;
  list.replaceChildren(...tokens.map((t) => h("li", { class: "bint-item", dataset: { id: t.id, role: t.role } },
    h("div", { class: "bint-main" },
      h("span", { class: "bint-token-name", text: t.name }),
      h("span", { class: "hint", text: `${ROLE_TEXT[t.role] || t.role} · created ${longTime(t.created_at)} · `
        + (t.last_used_at ? `last used ${longTime(t.last_used_at)}` : "never used") })),
    h("button", { type: "button", class: "danger", text: "Revoke", dataset: { what: "revoke" },
      attrs: { "aria-label": `Revoke the token ${t.name}` }, on: { click: () => revoke(t) } }))));
  if (!tokens.length) list.append(h("li", { class: "hint", text: "No API tokens yet." }));
  if (focusId) list.querySelector(`li[data-id="${CSS.escape(focusId)}"] button`)?.focus();
}

async function createToken() {
  const error = byId("bint-token-error");
  const name = byId("bint-token-name").value.trim();
  error.textContent = "";
  if (!name) { error.textContent = "Name the token (what uses it)."; byId("bint-token-name").focus(); return; }
  const button = byId("bint-token-create");
  button.disabled = true;
  try {
    const { token, ...made } = await request("POST", tokensPath(biz.current), { name, role: byId("bint-token-role").value });
    tokens = [...tokens, made];
    byId("bint-token-name").value = "";
    renderTokens();
    say(`Created the token “${made.name}” (${ROLE_TEXT[made.role]}).`);
    showOnce("bint-token-secret-box", `The token “${made.name}” — shown only now: it acts as ${nameOf(membership()?.business)}`, token);
  } catch (err) {
    error.textContent = err.message;
  } finally {
    button.disabled = false;
  }
}

async function revoke(t) {
  const ok = await confirmAction({ title: "Revoke this token?", text: `“${t.name}” stops working at once, on every server.`,
    confirmLabel: "Revoke token", action: () => request("DELETE", `${tokensPath(biz.current)}/${enc(t.id)}`) });
  if (!ok) return;
  tokens = tokens.filter((x) => x.id !== t.id);
  say(`Revoked “${t.name}”.`);
  renderTokens();
  byId("bint-token-name").focus();
}
