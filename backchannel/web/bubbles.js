/**
 * The parts of a bubble beyond its text: the link preview card, the location card, the
 * reaction chips and picker, and the keyboard-navigable emoji grid they share with the
 * composer's picker (views/emoji.js). Data reaches the page as text only; links are http(s)
 * only, open in a new tab with `rel="noopener noreferrer"`, and show their real host.
 */

import { h } from "./dom.js";
import { mediaLinks } from "./media.js";

/** The reactions the picker offers, in order. */
export const REACTIONS = ["❤️", "😂", "😮", "😢", "😡", "👍"];

/** @param {string} raw @returns {URL|null} the URL when it parses and is http(s) */
export function safeUrl(raw) {
  let url;
  try { url = new URL(raw); } catch { return null; }
  return url.protocol === "http:" || url.protocol === "https:" ? url : null;
}

/**
 * A message's link preview: site, title (the link), description, and the image the server
 * re-hosted as media (the page may load images from its own origin only).
 * @param {{url: string, title?: string, description?: string, site_name?: string, image?: any}} preview
 * @param {(() => void)|null} onRemove given to the sender: shows "Remove preview"
 */
export function previewCard(preview, onRemove) {
  const url = safeUrl(preview.url || "");
  const card = h("div", { class: "link-preview" });
  const image = preview.image;
  if (image?.id && !image.erased) {
    const img = h("img", { class: "link-preview-image", alt: "", loading: "lazy", decoding: "async" });
    if (image.width > 0 && image.height > 0) { img.width = image.width; img.height = image.height; }
    mediaLinks(image.id).then((link) => { img.src = link.url; }, () => img.remove());
    card.append(img);
  }
  const body = h("div", { class: "link-preview-body" });
  if (preview.site_name) body.append(h("span", { class: "link-preview-site", text: preview.site_name }));
  const title = preview.title || url?.href || preview.url || "";
  body.append(url
    ? h("a", { class: "link-preview-title", href: url.href, target: "_blank", rel: "noopener noreferrer",
      text: title, title: url.href })
    : h("span", { class: "link-preview-title", text: title }));
  if (preview.description) body.append(h("span", { class: "link-preview-description", text: preview.description }));
  if (url) body.append(h("span", { class: "link-preview-host", text: url.host }));
  card.append(body);
  if (onRemove) {
    card.append(h("button", { type: "button", class: "preview-remove", text: "Remove preview",
      attrs: { "aria-label": "Remove the link preview" }, on: { click: onRemove } }));
  }
  return card;
}

/** @param {number} lat @param {number} lon @returns {string} an OpenStreetMap link with a pin */
export function mapUrl(lat, lon) {
  const a = lat.toFixed(6);
  const b = lon.toFixed(6);
  return `https://www.openstreetmap.org/?mlat=${a}&mlon=${b}#map=16/${a}/${b}`;
}

/**
 * A shared location: its label (or "Location"), the coordinates, a link to the map.
 * @param {{latitude: number, longitude: number, label?: string}|null} share
 */
export function locationCard(share) {
  const lat = Number(share?.latitude);
  const lon = Number(share?.longitude);
  const card = h("div", { class: "location-card" },
    h("span", { class: "location-icon", text: "📍", attrs: { "aria-hidden": "true" } }),
    h("span", { class: "location-label", text: share?.label || "Location" }));
  if (Number.isFinite(lat) && Number.isFinite(lon) && Math.abs(lat) <= 90 && Math.abs(lon) <= 180) {
    card.append(
      h("span", { class: "location-coords", text: `${lat.toFixed(5)}, ${lon.toFixed(5)}` }),
      h("a", { class: "location-link", href: mapUrl(lat, lon), target: "_blank", rel: "noopener noreferrer",
        text: "Open in OpenStreetMap" }));
  }
  return card;
}

/**
 * A grid of emoji buttons with one tab stop: arrows move (by row with up and down), Home and
 * End jump, Escape calls `onEscape`.
 * @param {string[]} emojis
 * @param {{label: string, columns: number, onPick: (emoji: string) => void,
 *   onEscape?: () => void, pressed?: (emoji: string) => boolean|null,
 *   name?: (emoji: string) => string}} opts `pressed` null: not a toggle
 */
export function emojiGrid(emojis, { label, columns, onPick, onEscape, pressed = () => null, name }) {
  const grid = h("div", { class: "emoji-grid", attrs: { role: "group", "aria-label": label } });
  grid.style.setProperty("--columns", String(columns));
  const buttons = emojis.map((emoji, i) => {
    const on = pressed(emoji);
    const button = h("button", { type: "button", class: "emoji-choice", text: emoji, tabIndex: i === 0 ? 0 : -1,
      on: { click: () => onPick(emoji) } });
    if (name) button.setAttribute("aria-label", name(emoji));
    if (on !== null) button.setAttribute("aria-pressed", String(on));
    return button;
  });
  grid.append(...buttons);
  grid.addEventListener("keydown", (e) => {
    if (e.key === "Escape") { e.preventDefault(); e.stopPropagation(); onEscape?.(); return; }
    const i = buttons.indexOf(document.activeElement);
    if (i < 0) return;
    const step = { ArrowRight: 1, ArrowLeft: -1, ArrowDown: columns, ArrowUp: -columns }[e.key];
    let next = null;
    if (step) next = Math.min(Math.max(i + step, 0), buttons.length - 1);
    else if (e.key === "Home") next = 0;
    else if (e.key === "End") next = buttons.length - 1;
    if (next === null) return;
    e.preventDefault();
    buttons[i].tabIndex = -1;
    buttons[next].tabIndex = 0;
    buttons[next].focus();
  });
  return grid;
}

/** @param {any} msg @param {any} me @param {string} emoji */
const reacted = (msg, me, emoji) => (msg.reactions || []).some((r) => r.emoji === emoji && r.users.includes(me.handle));

/**
 * The reaction chips under a bubble: buttons that toggle my reaction with that emoji.
 * @param {any} msg @param {any} me @param {(msg: any, emoji: string, remove: boolean) => void} onReact
 */
export function reactionChips(msg, me, onReact) {
  const row = h("div", { class: "reactions" });
  for (const r of msg.unsent ? [] : msg.reactions || []) {
    const mine = r.users.includes(me.handle);
    row.append(h("button", { type: "button", class: `reaction${mine ? " mine" : ""}`,
      text: r.users.length > 1 ? `${r.emoji} ${r.users.length}` : r.emoji, title: r.users.join(", "),
      attrs: { "aria-label": `${r.emoji} by ${r.users.join(", ")}${mine ? " (remove yours)" : ""}`,
        "aria-pressed": String(mine) },
      on: { click: () => onReact(msg, r.emoji, mine) } }));
  }
  row.hidden = row.childElementCount === 0;
  return row;
}

/**
 * The "React" button and its picker (opened below it); picking an emoji I already chose
 * takes it back.
 * @param {any} msg @param {any} me @param {(msg: any, emoji: string, remove: boolean) => void} onReact
 */
export function reactionButton(msg, me, onReact) {
  const wrap = h("span", { class: "react-wrap" });
  const button = h("button", { type: "button", class: "action-react", text: "React",
    attrs: { "aria-haspopup": "true", "aria-expanded": "false", "aria-label": "React to this message" } });
  let picker = null;
  const outside = (e) => { if (!wrap.contains(e.target)) close(false); };
  function close(refocus) {
    if (!picker) return;
    picker.remove();
    picker = null;
    button.setAttribute("aria-expanded", "false");
    document.removeEventListener("pointerdown", outside, true);
    if (refocus) button.focus();
  }
  function open() {
    picker = emojiGrid(REACTIONS, {
      label: "Reactions", columns: REACTIONS.length,
      pressed: (emoji) => reacted(msg, me, emoji),
      name: (emoji) => (reacted(msg, me, emoji) ? `Remove your ${emoji}` : `React with ${emoji}`),
      onEscape: () => close(true),
      onPick: (emoji) => { close(true); onReact(msg, emoji, reacted(msg, me, emoji)); },
    });
    picker.classList.add("reaction-picker");
    wrap.append(picker);
    button.setAttribute("aria-expanded", "true");
    document.addEventListener("pointerdown", outside, true);
    picker.querySelector("button").focus();
  }
  button.addEventListener("click", () => { if (picker) close(true); else open(); });
  // Tabbing away closes it (a click outside is the pointerdown above; some browsers do not
  // focus a clicked button, so a focusout without a new target is no reason to close).
  wrap.addEventListener("focusout", (e) => {
    if (picker && e.relatedTarget && !wrap.contains(e.relatedTarget)) close(false);
  });
  wrap.append(button);
  return wrap;
}
