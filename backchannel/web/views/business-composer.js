/**
 * Saved replies in the team composer (`#bconv-text`): typing `/` at the start opens the
 * business's saved replies filtered by what follows (shortcut or title), and the "Saved
 * replies" button opens the same list with a filter box. Arrow keys move, Enter (or a
 * click) chooses, Escape closes. Choosing asks the server to fill the variables in for the
 * open conversation (`…/saved-replies/{id}/render`) and puts the text in the composer, to
 * edit before sending.
 */

import { api } from "../api.js";
import { byId, h } from "../dom.js";
import { biz, can } from "./business-state.js";
import { initSendLater } from "./business-outbound.js";

/** The current business's saved replies (as last fetched) and whose they are. */
let replies = [];
let repliesOf = null;
/** The open list: `mode` "slash" (the composer is the combobox) or "button" (the filter box). */
const list = { open: false, mode: "slash", shown: [], active: 0 };
let text;
let popup;
let options;
let filter;
let button;
let status;

/** Build the button and the list, and listen to the composer (before its own Enter). */
export function initComposer() {
  text = byId("bconv-text");
  button = h("button", { id: "bconv-replies-open", type: "button", class: "ghost replies-open", text: "Saved replies",
    attrs: { "aria-haspopup": "listbox", "aria-expanded": "false", "aria-controls": "bconv-replies" },
    on: { click: () => (list.open ? close() : open("button")) } });
  filter = h("input", { id: "bconv-replies-filter", type: "search", autocomplete: "off", placeholder: "Filter saved replies",
    attrs: { role: "combobox", "aria-autocomplete": "list", "aria-controls": "bconv-replies-list", "aria-expanded": "true" },
    on: { input: () => show(filter.value), keydown: onKey } });
  options = h("ul", { id: "bconv-replies-list", class: "replies-list", attrs: { role: "listbox", "aria-label": "Saved replies" } });
  status = h("p", { id: "bconv-replies-status", class: "hint", attrs: { role: "status" } });
  popup = h("div", { id: "bconv-replies", class: "replies-popup", hidden: true },
    h("label", { for: "bconv-replies-filter", class: "visually-hidden", text: "Filter saved replies" }), filter, options, status);
  const form = byId("bconv-composer");
  form.insertBefore(button, byId("bconv-send"));
  form.append(popup);
  text.setAttribute("aria-autocomplete", "list");
  text.setAttribute("aria-controls", "bconv-replies-list");
  text.addEventListener("keydown", (e) => { if (list.open && list.mode === "slash") onKey(e); });
  text.addEventListener("input", onInput);
  text.addEventListener("blur", () => setTimeout(() => {
    if (list.open && list.mode === "slash" && document.activeElement !== text) close(false);
  }, 150));
  popup.addEventListener("focusout", (e) => {
    if (list.mode === "button" && !popup.contains(e.relatedTarget) && e.relatedTarget !== button) close(false);
  });
  initSendLater(); // "Send later" and the scheduled messages: business-outbound.js
}

/** Forget the cached replies (another business shown, or they changed in the settings). */
export function forgetReplies() {
  replies = [];
  repliesOf = null;
  if (popup) close(false);
}

/** The fetch under way, if any (an Enter typed before it answers waits for it). */
let loading = null;

/** The business's replies, from the cache and then the server (the list re-renders). */
function load() {
  loading = fetchReplies().finally(() => { loading = null; });
  return loading;
}

async function fetchReplies() {
  const handle = biz.current;
  if (repliesOf !== handle) { replies = []; repliesOf = handle; }
  try {
    const items = (await api.savedReplies(handle)).items || [];
    if (biz.current !== handle) return;
    replies = items;
    status.textContent = "";
  } catch (err) {
    status.textContent = err.message;
  }
  // Fresh from the server: re-render, keeping the reply the person has moved to (an arrow
  // key pressed before the answer came must not be undone by it).
  if (list.open) show(list.mode === "slash" ? slashQuery() : filter.value, list.shown[list.active]?.id);
}

/** What follows the `/` typed at the start of the composer, or null when it is not that. */
function slashQuery() {
  const m = /^\/(\S*)$/.exec(text.value);
  return m ? m[1] : null;
}

function onInput() {
  const query = slashQuery();
  if (query === null) { if (list.open && list.mode === "slash") close(false); return; }
  if (!list.open) open("slash");
  else show(query);
}

function open(mode) {
  if (!biz.openId || !can("reply")) return;
  list.open = true;
  list.mode = mode;
  popup.hidden = false;
  filter.hidden = mode !== "button";
  button.setAttribute("aria-expanded", "true");
  if (mode === "slash") {
    text.setAttribute("role", "combobox");
    text.setAttribute("aria-expanded", "true");
    show(slashQuery() || "");
  } else {
    filter.value = "";
    show("");
    filter.focus();
  }
  load();
}

/** Close the list; `refocus`: put the focus back in the composer. */
function close(refocus = true) {
  const was = list.open;
  list.open = false;
  popup.hidden = true;
  button.setAttribute("aria-expanded", "false");
  text.setAttribute("aria-expanded", "false");
  text.removeAttribute("aria-activedescendant");
  filter.removeAttribute("aria-activedescendant");
  text.removeAttribute("role");
  if (was && refocus) text.focus();
}

/** The replies whose shortcut starts with `query` first, then those whose title has it. */
function matching(query) {
  const q = query.trim().toLowerCase().replace(/^\//, "");
  if (!q) return replies;
  const byShortcut = replies.filter((r) => r.shortcut.startsWith(q));
  return [...byShortcut, ...replies.filter((r) => !byShortcut.includes(r) && r.title.toLowerCase().includes(q))];
}

/** Render the replies matching `query`, the first (or the one with id `keep`) active. */
function show(query, keep = null) {
  list.shown = matching(query);
  list.active = Math.max(0, list.shown.findIndex((r) => r.id === keep));
  options.replaceChildren(...list.shown.map((r, i) => h("li", {
    id: `bconv-reply-${r.id}`, class: "reply-option", dataset: { id: r.id },
    attrs: { role: "option", "aria-selected": String(i === list.active) },
    on: { mousedown: (e) => e.preventDefault(), click: () => choose(r), mousemove: () => highlight(i) } },
  h("span", { class: "reply-shortcut", text: `/${r.shortcut}` }), h("span", { class: "reply-title", text: r.title }))));
  if (!list.shown.length) {
    const none = replies.length ? "No saved reply matches." : "No saved replies yet.";
    const manage = can("manage_replies") ? " Add them in the business settings." : "";
    options.replaceChildren(h("li", { class: "hint reply-none", text: none + (replies.length ? "" : manage) }));
  }
  highlight(list.active);
}

function highlight(i) {
  list.active = i;
  const owner = list.mode === "slash" ? text : filter;
  [...options.querySelectorAll("[role=option]")].forEach((el, j) => el.setAttribute("aria-selected", String(j === i)));
  const chosen = list.shown[i];
  if (chosen) {
    owner.setAttribute("aria-activedescendant", `bconv-reply-${chosen.id}`);
    byId(`bconv-reply-${chosen.id}`).scrollIntoView({ block: "nearest" });
  } else owner.removeAttribute("aria-activedescendant");
}

function onKey(e) {
  if (e.isComposing) return;
  const n = list.shown.length;
  if (e.key === "ArrowDown" || e.key === "ArrowUp") {
    e.preventDefault();
    if (n) highlight((list.active + (e.key === "ArrowDown" ? 1 : n - 1)) % n);
  } else if (e.key === "Enter" && !e.shiftKey) {
    if (list.mode === "slash" && !list.shown[list.active] && !loading) { close(false); return; } // no match: sent as typed
    e.preventDefault();
    e.stopImmediatePropagation(); // not a send
    if (list.shown[list.active]) choose(list.shown[list.active]);
    else loading.then(() => { if (list.open && list.shown[list.active]) choose(list.shown[list.active]); });
  } else if (e.key === "Escape") {
    e.preventDefault();
    e.stopPropagation(); // not the dialog's, nor the conversation's
    close();
  } else if (e.key === "Tab" && list.mode === "button") {
    close(false);
  }
}

/** Fill the reply in for the open conversation and put it in the composer. */
async function choose(reply) {
  const id = biz.openId;
  const handle = biz.current;
  const slash = list.mode === "slash" || slashQuery() !== null;
  status.textContent = "Filling it in…";
  try {
    const { text: filled } = await api.renderSavedReply(handle, reply.id, id);
    if (biz.openId !== id || biz.current !== handle) return;
    status.textContent = "";
    close();
    if (slash || !text.value.trim()) text.value = filled;
    else {
      const at = text.selectionStart ?? text.value.length;
      text.value = text.value.slice(0, at) + filled + text.value.slice(text.selectionEnd ?? at);
    }
    text.focus();
    text.setSelectionRange(text.value.length, text.value.length);
    text.dispatchEvent(new Event("input"));
  } catch (err) {
    status.textContent = err.message;
  }
}
