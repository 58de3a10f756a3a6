/**
 * Search in the inbox: messages by their words (GET /search/messages), ranked, with the
 * matched words highlighted, and filters for a person, media and links. A result opens its
 * conversation. Snippets arrive as plain-text segments: each goes in through textContent
 * (matches in a <mark>), so nothing a message says is ever parsed as HTML.
 */

import { request } from "../api.js";
import { byId, h } from "../dom.js";
import { conversationTitle, nameOf, shortTime } from "../render.js";
import { state } from "../state.js";

/** @param {(conversationId: string) => void} onOpen */
export function initSearch(onOpen) {
  const form = byId("search-form");
  const results = byId("search-results");
  const status = byId("search-status");
  let asked = 0; // only the latest search may fill the list

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const q = /** @type {HTMLInputElement} */ (byId("search-q")).value.trim();
    results.replaceChildren();
    status.textContent = "";
    if (!q) return;
    const params = new URLSearchParams({ q, limit: "20" });
    const sender = /** @type {HTMLInputElement} */ (byId("search-sender")).value.trim();
    if (sender) params.set("sender", sender.replace(/^@/, ""));
    if (/** @type {HTMLInputElement} */ (byId("search-media")).checked) params.set("has_media", "true");
    if (/** @type {HTMLInputElement} */ (byId("search-link")).checked) params.set("has_link", "true");
    const mine = ++asked;
    status.textContent = "Searching…";
    try {
      const page = await request("GET", `/search/messages?${params}`);
      if (mine !== asked) return;
      status.textContent = page.items.length ? "" : "No messages found.";
      results.replaceChildren(...page.items.map((item) => resultItem(item, onOpen)));
    } catch (err) {
      if (mine === asked) status.textContent = err.message;
    }
  });
  byId("search-clear").addEventListener("click", () => {
    asked++;
    form.reset();
    results.replaceChildren();
    status.textContent = "";
  });
}

/** One result: where and who, when, and the snippet with its matches marked. */
function resultItem(item, onOpen) {
  const conv = state.convs.get(item.conversation.id);
  const where = conv && state.me ? conversationTitle(conv, state.me) : item.conversation.title || "Conversation";
  const snippet = h("p", { class: "search-snippet" },
    ...item.snippet.map((part) => (part.match ? h("mark", { text: part.text }) : part.text)));
  const open = () => onOpen(item.conversation.id);
  return h("li", { class: "search-result", dataset: { conversation: item.conversation.id } },
    h("button", { type: "button", class: "search-open", on: { click: open } },
      h("span", { class: "search-where", text: `${where} · ${nameOf(item.message.sender)}` }),
      h("time", { class: "search-when", text: shortTime(item.message.created_at) }),
      snippet));
}
