/**
 * Pure rendering: data in, elements out. Message text only ever reaches the page through
 * text nodes; links become <a> elements whose visible text is their real target.
 */

import { locationCard, previewCard, reactionButton, reactionChips } from "./bubbles.js";
import { h } from "./dom.js";
import { mediaList } from "./media.js";

const URL_RE = /\bhttps?:\/\/[^\s<>"]+/gi;
const TRAILING = /[.,!?;:'")\]}]+$/;

/**
 * Split text into text nodes and safe links (http and https only).
 * @param {string} text
 * @returns {Node[]}
 */
export function linkify(text) {
  const nodes = [];
  let last = 0;
  for (const match of text.matchAll(URL_RE)) {
    let raw = match[0];
    const trail = raw.match(TRAILING);
    if (trail) raw = raw.slice(0, raw.length - trail[0].length);
    let url;
    try { url = new URL(raw); } catch { continue; }
    if (url.protocol !== "http:" && url.protocol !== "https:") continue;
    if (match.index > last) nodes.push(document.createTextNode(text.slice(last, match.index)));
    nodes.push(h("a", { href: raw, target: "_blank", rel: "noopener noreferrer", text: raw }));
    last = match.index + raw.length;
  }
  if (last < text.length) nodes.push(document.createTextNode(text.slice(last)));
  return nodes;
}

/** @param {string} iso @returns {string} a short time for lists: 14:05, Tue, or 3 Mar */
export function shortTime(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  const now = new Date();
  if (d.toDateString() === now.toDateString()) {
    return d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  }
  if (now - d < 6 * 24 * 3600 * 1000) return d.toLocaleDateString([], { weekday: "short" });
  return d.toLocaleDateString([], { day: "numeric", month: "short" });
}

/** @param {string} iso @returns {string} a full date and time for tooltips */
export const longTime = (iso) => (iso ? new Date(iso).toLocaleString() : "");

/** A member's name as shown: display name, or "Deleted user". */
export const nameOf = (user) => (user?.deleted ? "Deleted user" : user?.display_name || user?.handle || "Someone");

/**
 * The title of a conversation for `me`: a group's title, else the other members' names.
 * @param {any} conv @param {{id:string}} me
 */
export function conversationTitle(conv, me) {
  if (conv.kind === "group" && conv.title) return conv.title;
  const others = (conv.members || []).filter((m) => m.id !== me.id);
  if (others.length === 0) return "Just you";
  return others.map(nameOf).join(", ");
}

/** The one-line preview of a conversation's last message. */
export function previewText(conv, me) {
  const m = conv.last_message;
  if (!m) return conv.request ? "Message request" : "No messages yet";
  const mine = m.sender?.id === me.id;
  const body = m.unsent ? "Message unsent" : m.text || (m.kind === "location" ? "Location" : attachmentLabel(m));
  return mine ? `You: ${body}` : body;
}

const ATTACHMENT_LABEL = { image: "Photo", gif: "GIF", video: "Video", audio: "Audio", voice: "Voice message", document: "File" };

/** "Photo", "3 attachments"… for a message without text. */
function attachmentLabel(m) {
  const media = m.media || [];
  if (media.length > 1) return `${media.length} attachments`;
  return ATTACHMENT_LABEL[media[0]?.kind] || "Attachment";
}

/**
 * Fill (or refill) an inbox row.
 * @param {HTMLLIElement} li a `li.conversation` (created here when null)
 * @param {any} conv @param {any} me @param {boolean} active the open conversation
 * @param {(id: string) => void} onOpen
 */
export function conversationRow(li, conv, me, active, onOpen) {
  const title = conversationTitle(conv, me);
  const unread = conv.unread_count || 0;
  const row = li || h("li", { class: "conversation", dataset: { id: conv.id } });
  row.classList.toggle("active", active);
  row.classList.toggle("unread", unread > 0);
  const badge = h("span", { class: "badge", text: unread > 0 ? String(unread) : "", hidden: unread === 0,
    attrs: { "aria-label": `${unread} unread` } });
  const button = h("button", { type: "button", class: "row", on: { click: () => onOpen(conv.id) } },
    h("span", { class: "avatar", text: initial(title), attrs: { "aria-hidden": "true" } }),
    h("span", { class: "row-main" },
      h("span", { class: "row-top" },
        h("span", { class: "title", text: title }),
        conv.pinned ? h("span", { class: "pinned", text: "Pinned", title: "Pinned" }) : null,
        conv.muted ? h("span", { class: "muted", text: "Muted", title: "Muted" }) : null,
        h("time", { class: "time", text: shortTime(conv.last_message_at), dateTime: conv.last_message_at || "" })),
      h("span", { class: "row-bottom" },
        h("span", { class: "preview", text: previewText(conv, me) }),
        badge)));
  if (active) button.setAttribute("aria-current", "true");
  row.replaceChildren(button);
  return row;
}

/** The server's default edit window (`edit_window_seconds`); the server has the last word. */
export const EDIT_WINDOW_MS = 15 * 60 * 1000;

/** Whether a message of mine is still inside the edit window. */
export function canEdit(msg) {
  const at = new Date(msg.created_at).getTime();
  return !msg.unsent && (!Number.isFinite(at) || Date.now() - at < EDIT_WINDOW_MS);
}

/** @param {string} name @returns {string} one upper-case letter for an avatar */
export function initial(name) {
  const ch = [...(name || "?").trim()][0] || "?";
  return ch.toUpperCase();
}

/**
 * A message bubble.
 * @param {any} msg @param {any} me @param {any} conv
 * @param {{onUnsend: Function, onReact: (msg: any, emoji: string, remove: boolean) => void,
 *   onReply: Function, onEdit: Function, onForward: Function, onDeleteForMe: Function,
 *   onRemovePreview?: Function, onReport?: Function, onQuickReply?: Function}} actions
 */
export function messageItem(msg, me, conv, actions) {
  const mine = msg.sender?.id === me.id;
  const li = h("li", { class: `message ${mine ? "mine" : "theirs"}${msg.unsent ? " unsent" : ""}`,
    dataset: { id: msg.id } });
  if (!mine && conv.kind === "group") li.append(h("span", { class: "sender", text: nameOf(msg.sender) }));
  const bubble = h("div", { class: "bubble", title: longTime(msg.created_at) });
  if (msg.reply_to) {
    bubble.append(h("div", { class: "quote" },
      h("span", { class: "quote-who", text: msg.reply_to.sender_handle || "Deleted user" }),
      h("span", { class: "quote-text", text: msg.reply_to.text ?? "Message unsent" })));
  }
  if (msg.unsent) {
    bubble.append(h("span", { class: "text", text: "Message unsent" }));
  } else {
    const media = mediaList(msg, mine);
    if (media) { bubble.append(media); bubble.classList.add("has-media"); }
    const place = msg.kind === "location" ? locationCard(msg.share) : null;
    if (place) bubble.append(place);
    if (msg.text || (!media && !place)) bubble.append(h("span", { class: "text" }, ...linkify(msg.text ?? "")));
    if (msg.preview) {
      bubble.append(previewCard(msg.preview,
        mine && actions.onRemovePreview ? () => actions.onRemovePreview(msg) : null));
    }
    if (msg.edited_at) bubble.append(h("span", { class: "edited", text: "(edited)", title: longTime(msg.edited_at) }));
  }
  li.append(bubble);
  if (!mine && !msg.unsent && msg.quick_replies?.length && actions.onQuickReply) {
    // Suggested replies (a business's bot): shown under its newest message only (CSS).
    li.append(h("div", { class: "quick-replies", attrs: { role: "group", "aria-label": "Suggested replies" } },
      ...msg.quick_replies.map((q) => h("button", { type: "button", class: "quick-reply", text: q.label,
        on: { click: () => actions.onQuickReply(msg, q.label) } }))));
  }
  li.append(reactionChips(msg, me, actions.onReact));
  if (!msg.unsent) {
    const tools = h("div", { class: "actions" }, reactionButton(msg, me, actions.onReact));
    tools.append(h("button", { type: "button", class: "action-reply", text: "Reply",
      on: { click: () => actions.onReply(msg) } }));
    if (mine && msg.text && canEdit(msg)) {
      tools.append(h("button", { type: "button", class: "action-edit", text: "Edit",
        on: { click: () => actions.onEdit(msg) } }));
    }
    tools.append(h("button", { type: "button", class: "action-forward", text: "Forward",
      on: { click: () => actions.onForward(msg) } }));
    if (mine) {
      tools.append(h("button", { type: "button", class: "action-unsend", text: "Unsend",
        on: { click: () => actions.onUnsend(msg) } }));
    }
    tools.append(h("button", { type: "button", class: "action-delete-me", text: "Delete for me",
      on: { click: () => actions.onDeleteForMe(msg) } }));
    if (!mine && actions.onReport) {
      tools.append(h("button", { type: "button", class: "action-report", text: "Report",
        attrs: { "aria-label": "Report this message" }, on: { click: () => actions.onReport(msg) } }));
    }
    li.append(tools);
  }
  return li;
}
