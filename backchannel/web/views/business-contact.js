/**
 * The contact dialog (`#business-contact`), opened from the team conversation's panel:
 * what the business keeps of a customer (`GET/PATCH …/contacts/{customer}`) — its own name
 * for them, notes, custom attributes (add, edit, remove key-value pairs) — and their
 * conversations with the business, each to open. Agents and up change it; viewers read.
 */

import { api } from "../api.js";
import { byId, focusAdrift, h } from "../dom.js";
import { longTime, nameOf } from "../render.js";
import { STATUS_TEXT, biz, can } from "./business-state.js";

const KEY = /^[a-z0-9_]{1,40}$/;
/** The customer shown, the attributes as loaded (to send removals as nulls), the rows. */
let shown = { handle: null, loaded: {}, conversationId: null };
let open = () => {};

/** @param {(id: string) => void} openConversation opens one of the business's conversations */
export function initContact(openConversation) {
  open = openConversation;
  const dialog = byId("business-contact");
  byId("business-contact-close").addEventListener("click", () => dialog.close());
  dialog.addEventListener("click", (e) => { if (e.target === dialog) dialog.close(); });
  dialog.addEventListener("close", () => { if (focusAdrift(dialog)) document.getElementById("bconv-contact-open")?.focus(); });
}

function say(text, error = false) {
  const status = byId("business-contact-status");
  status.textContent = text;
  status.classList.toggle("error", error);
}

/** Open the contact of a customer (a handle), from the conversation `conversationId`. */
export async function openContact(customer, conversationId) {
  const dialog = byId("business-contact");
  shown = { handle: customer.handle, loaded: {}, conversationId };
  byId("business-contact-title").textContent = nameOf(customer);
  byId("business-contact-body").replaceChildren();
  say("Loading…");
  if (!dialog.open) dialog.showModal();
  byId("business-contact-close").focus();
  const handle = biz.current;
  try {
    const contact = await api.contact(handle, customer.handle);
    if (biz.current !== handle || shown.handle !== customer.handle) return;
    render(contact);
    say(can("triage") ? "" : "You can read this contact; a viewer can't change it.");
  } catch (err) {
    say(err.message, true);
  }
}

function render(contact) {
  const edit = can("triage");
  shown.loaded = { ...contact.attributes };
  byId("business-contact-title").textContent = contact.name || nameOf(contact.customer);
  const name = h("input", { id: "bcontact-name", maxLength: 100, autocomplete: "off", value: contact.name || "",
    placeholder: nameOf(contact.customer), attrs: { "aria-describedby": "bcontact-name-hint" } });
  const notes = h("textarea", { id: "bcontact-notes", rows: 4, maxLength: 20000, value: contact.notes || "" });
  const rows = h("ul", { id: "bcontact-attributes", class: "bcontact-attributes", attrs: { "aria-labelledby": "bcontact-attributes-title" } },
    ...Object.entries(contact.attributes).map(([k, v]) => attributeRow(k, v)));
  const add = h("button", { id: "bcontact-attribute-add", type: "button", class: "link", text: "Add an attribute",
    on: { click: () => { const row = attributeRow("", ""); rows.append(row); row.querySelector("input").focus(); } } });
  const fields = h("fieldset", { class: "bset-fields", disabled: !edit },
    h("legend", { class: "visually-hidden", text: "Contact details" }),
    h("dl", { class: "panel-values" }, h("dt", { text: "Handle" }), h("dd", { text: `@${contact.customer.handle}` }),
      h("dt", { text: "Their name" }), h("dd", { text: nameOf(contact.customer) })),
    h("div", { class: "field" }, h("label", { for: "bcontact-name", text: "Your name for them" }), name,
      h("p", { id: "bcontact-name-hint", class: "hint", text: "Only the team sees it; saved replies use it first." })),
    h("div", { class: "field" }, h("label", { for: "bcontact-notes", text: "Notes" }), notes),
    h("h3", { id: "bcontact-attributes-title", text: "Attributes" }), rows, edit ? add : null,
    h("p", { class: "hint", text: "Keys are a-z, 0-9 and _ ({{customer.attributes.key}} in saved replies)." }));
  const form = h("form", { id: "bcontact-form", noValidate: true, on: { submit: (e) => { e.preventDefault(); save(); } } },
    fields, h("p", { id: "bcontact-error", class: "form-error", attrs: { role: "alert" } }),
    h("div", { class: "dialog-buttons", hidden: !edit }, h("button", { id: "bcontact-save", class: "primary", type: "submit", text: "Save contact" })));
  byId("business-contact-body").replaceChildren(form, conversations(contact.conversations));
}

function attributeRow(key, value) {
  const n = document.querySelectorAll(".bcontact-attribute").length + 1;
  const k = h("input", { class: "bcontact-key", value: key, maxLength: 40, autocomplete: "off", placeholder: "key",
    spellcheck: false, autocapitalize: "none", attrs: { "aria-label": `Attribute ${n}: key` } });
  const v = h("input", { class: "bcontact-value", value, maxLength: 200, autocomplete: "off", placeholder: "value",
    attrs: { "aria-label": `Attribute ${n}: value` } });
  const li = h("li", { class: "bcontact-attribute", dataset: { key } }, k, v);
  if (can("triage")) {
    li.append(h("button", { type: "button", class: "ghost bcontact-remove", text: "Remove",
      attrs: { "aria-label": `Remove the attribute ${key || n}` },
      on: { click: () => { li.remove(); byId("bcontact-attribute-add").focus(); } } }));
  }
  return li;
}

function conversations(states) {
  const items = states.map((s) => {
    const here = s.conversation_id === shown.conversationId;
    const text = `${STATUS_TEXT[s.status] || s.status} · last message ${longTime(s.last_message_at) || "none yet"}`;
    return h("li", { class: "bcontact-conversation", dataset: { id: s.conversation_id } },
      h("span", { text: here ? `${text} (this one)` : text }),
      here ? null : h("button", { type: "button", class: "ghost", text: "Open", attrs: { "aria-label": `Open the conversation: ${text}` },
        on: { click: () => { byId("business-contact").close(); open(s.conversation_id); } } }));
  });
  return h("section", { class: "settings-section", attrs: { "aria-labelledby": "bcontact-conversations-title" } },
    h("h3", { id: "bcontact-conversations-title", text: "Conversations" }),
    h("ul", { id: "bcontact-conversations", class: "bcontact-conversations" },
      ...(items.length ? items : [h("li", { class: "hint", text: "None you can see." })])));
}

async function save() {
  const error = byId("bcontact-error");
  error.textContent = "";
  const attributes = {};
  for (const li of document.querySelectorAll(".bcontact-attribute")) {
    const key = li.querySelector(".bcontact-key").value.trim();
    const value = li.querySelector(".bcontact-value").value;
    if (!key && !value) continue;
    if (!KEY.test(key)) { error.textContent = `“${key}”: a key is 1-40 characters of a-z, 0-9 and _.`; li.querySelector("input").focus(); return; }
    if (key in attributes) { error.textContent = `The key “${key}” is there twice.`; li.querySelector("input").focus(); return; }
    attributes[key] = value;
  }
  for (const key of Object.keys(shown.loaded)) if (!(key in attributes)) attributes[key] = null; // removed
  const button = byId("bcontact-save");
  button.disabled = true;
  say("Saving…");
  try {
    const contact = await api.patchContact(biz.current, shown.handle,
      { name: byId("bcontact-name").value.trim() || null, notes: byId("bcontact-notes").value.trim() || null, attributes });
    render(contact);
    say("Saved.");
    byId("bcontact-save").focus();
  } catch (err) {
    error.textContent = err.message;
    say("Not saved.", true);
    button.disabled = false;
  }
}
