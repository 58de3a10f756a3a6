/**
 * Attachments inside message bubbles. Bytes come through signed links
 * (`GET /media/{id}/links`, valid 10 minutes; cached here for 9), so `<img>`, `<video>` and
 * `<audio>` need no bearer token. Names and sizes reach the page as text only.
 */

import { api } from "./api.js";
import { h } from "./dom.js";
import { decode as decodeBlurhash } from "./vendor/blurhash.js";

const LINK_TTL_MS = 9 * 60 * 1000;
/** media id → {at, promise} @type {Map<string, {at: number, promise: Promise<any>}>} */
const links = new Map();
/** View-once media this tab opened (they cannot be opened again). */
const openedHere = new Set();

/** @param {string} id @returns {Promise<{url: string, thumbnail_url: string|null}>} */
export function mediaLinks(id) {
  const hit = links.get(id);
  if (hit && Date.now() - hit.at < LINK_TTL_MS) return hit.promise;
  const promise = api.mediaLinks(id);
  links.set(id, { at: Date.now(), promise });
  promise.catch(() => links.delete(id));
  return promise;
}

/** @param {number} bytes */
function size(bytes) {
  if (!Number.isFinite(bytes)) return "";
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${Math.round(bytes / 1024)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

/** @param {number|null} ms @returns {string} "1:05" */
function duration(ms) {
  if (!ms) return "";
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

/** Keep the box of an image or video its final shape before it loads. */
function reserve(el, media) {
  if (media.width > 0 && media.height > 0) {
    el.width = media.width;
    el.height = media.height;
    el.style.aspectRatio = `${media.width} / ${media.height}`;
  }
}

/** A row of bars, one per waveform level (0-255). */
function waveform(levels) {
  const row = h("div", { class: "waveform", attrs: { "aria-hidden": "true" } });
  const step = Math.max(1, Math.ceil(levels.length / 48));
  for (let i = 0; i < levels.length; i += step) {
    const level = Math.max(...levels.slice(i, i + step).map(Number).filter(Number.isFinite), 0);
    const bar = h("span", { class: "waveform-bar" });
    bar.style.height = `${Math.max(8, Math.round((Math.min(level, 255) / 255) * 100))}%`;
    row.append(bar);
  }
  return row;
}

/** Fill `box` with the playable or viewable element of `media` from `url`. */
function fill(box, media, link) {
  const url = link.url;
  switch (media.kind) {
    case "image":
    case "gif": {
      const alt = media.kind === "gif" ? "GIF" : "Photo";
      const img = h("img", { class: "media-image", alt, src: url, loading: "lazy", decoding: "async" });
      img.addEventListener("load", () => box.classList.add("loaded"), { once: true });
      reserve(img, media);
      if (media.view_once) { box.replaceChildren(img); return; }
      // A photo opens in the viewer (its bytes are already here: the same signed link).
      const open = h("button", { type: "button", class: "media-open", attrs: { "aria-label": `Open ${alt.toLowerCase()}` },
        on: { click: () => openViewer(open) } }, img);
      open.dataset.url = url;
      open.dataset.alt = alt;
      box.replaceChildren(open);
      return;
    }
    case "video": {
      const video = h("video", { class: "media-video", controls: true, preload: "metadata", src: url,
        attrs: { "aria-label": "Video" } });
      if (link.thumbnail_url && !media.view_once) video.poster = link.thumbnail_url;
      reserve(video, media);
      box.replaceChildren(video);
      return;
    }
    case "audio":
    case "voice": {
      const audio = h("audio", { class: "media-audio", controls: true, preload: "metadata", src: url,
        attrs: { "aria-label": media.kind === "voice" ? "Voice message" : "Audio" } });
      const parts = [];
      if (media.kind === "voice" && Array.isArray(media.waveform) && media.waveform.length) {
        parts.push(waveform(media.waveform));
      }
      parts.push(audio);
      const len = duration(media.duration_ms);
      if (len) parts.push(h("span", { class: "media-meta", text: len }));
      box.replaceChildren(...parts);
      return;
    }
    default: {
      const name = media.filename || "Document";
      const a = h("a", { class: "media-document", href: url, download: name, rel: "noopener",
        attrs: { "aria-label": `Download ${name}${media.size ? `, ${size(media.size)}` : ""}` } },
        h("span", { class: "media-document-icon", text: "📄", attrs: { "aria-hidden": "true" } }),
        h("span", { class: "media-document-name", text: name }),
        h("span", { class: "media-meta", text: size(media.size) }));
      box.replaceChildren(a);
    }
  }
}

/** Download view-once bytes once; resolves with a blob: URL. */
async function openOnce(media) {
  const link = await mediaLinks(media.id);
  links.delete(media.id);
  let response;
  try { response = await fetch(link.url); } catch {
    throw Object.assign(new Error("Cannot reach the server. Check your connection."), { status: 0 });
  }
  if (!response.ok) {
    let message = `The server answered ${response.status}.`;
    try { message = (await response.json()).error.message || message; } catch { /* not JSON */ }
    throw Object.assign(new Error(message), { status: response.status });
  }
  return URL.createObjectURL(await response.blob());
}

function showError(box, message) {
  box.replaceChildren(h("span", { class: "media-error", text: message }));
}

function load(box, media) {
  mediaLinks(media.id).then((link) => fill(box, media, link),
    (err) => showError(box, err.status === 410 ? "No longer available" : err.message));
}

const KIND_NAME = { image: "photo", gif: "GIF", video: "video", audio: "audio", voice: "voice message", document: "file" };

/**
 * One attachment's element; links are fetched (or taken from the cache) in the background.
 * @param {any} media a media object of a message @param {boolean} mine sent by me
 */
export function mediaItem(media, mine) {
  const box = h("div", { class: `media media-kind-${media.kind}`, dataset: { mediaId: media.id } });
  if (media.erased) {
    box.append(h("span", { class: "media-error", text: media.view_once ? "Opened" : "No longer available" }));
    return box;
  }
  if (media.view_once) {
    box.classList.add("view-once");
    const what = KIND_NAME[media.kind] || "media";
    if (mine) {
      const seen = (media.opened_by || []).length;
      box.append(h("span", { class: "view-once-label",
        text: seen ? `View-once ${what} · Opened` : `View-once ${what}` }));
      return box;
    }
    if (openedHere.has(media.id)) {
      box.append(h("span", { class: "view-once-label", text: "Opened" }));
      return box;
    }
    const button = h("button", { type: "button", class: "view-once-open", text: "View once",
      attrs: { "aria-label": `View once: ${what}` } });
    button.addEventListener("click", () => {
      openedHere.add(media.id);
      button.disabled = true;
      // It opens once per person: fetch the bytes a single time into a blob (a player's
      // range requests would each count as an opening).
      openOnce(media).then((blobUrl) => {
        fill(box, media, { url: blobUrl, thumbnail_url: null });
        const close = h("button", { type: "button", class: "view-once-close", text: "Close" });
        close.addEventListener("click", () => {
          URL.revokeObjectURL(blobUrl);
          box.replaceChildren(h("span", { class: "view-once-label", text: "Opened" }));
        });
        box.append(close);
        close.focus();
      }, (err) => {
        box.replaceChildren(h("span", { class: "view-once-label", text: err.status === 410 ? "Opened" : err.message }));
      });
    });
    box.append(button);
    return box;
  }
  box.append(h("span", { class: "media-loading", text: "Loading…" }));
  if (media.kind === "image" || media.kind === "gif" || media.kind === "video") reservePlaceholder(box, media);
  load(box, media);
  return box;
}

/** A placeholder of the media's shape (and its blurred colours) while the link loads. */
function reservePlaceholder(box, media) {
  if (media.width > 0 && media.height > 0) {
    box.style.aspectRatio = `${media.width} / ${media.height}`;
    box.style.width = `min(100%, ${Math.min(media.width, 320)}px)`;
  }
  const blur = media.blurhash && blurhashUrl(media.blurhash);
  if (blur) {
    box.style.backgroundImage = `url("${blur}")`;
    box.classList.add("blurred");
  }
}

/** blurhash → a tiny PNG data: URL, cached (null when it does not decode). */
const blurCache = new Map();
function blurhashUrl(hash) {
  if (blurCache.has(hash)) return blurCache.get(hash);
  let url = null;
  try {
    const size = 32;
    const pixels = decodeBlurhash(hash, size, size);
    const canvas = h("canvas", { width: size, height: size });
    const ctx = canvas.getContext("2d");
    const image = ctx.createImageData(size, size);
    image.data.set(pixels);
    ctx.putImageData(image, 0, 0);
    url = canvas.toDataURL("image/png");
  } catch { /* an invalid hash: the plain placeholder */ }
  if (blurCache.size > 500) blurCache.clear();
  blurCache.set(hash, url);
  return url;
}

/* The image viewer: a <dialog id="viewer"> showing one photo large; ← and → step through
   the open conversation's photos, Escape closes and gives focus back. */

let viewerFrom = null;

function viewerTargets() {
  return [...document.querySelectorAll("#messages .media-open")];
}

function showInViewer(button) {
  viewerFrom = button;
  const img = document.getElementById("viewer-image");
  img.src = button.dataset.url;
  img.alt = button.dataset.alt || "Photo";
  const download = document.getElementById("viewer-download");
  download.href = button.dataset.url;
  const all = viewerTargets();
  const i = all.indexOf(button);
  document.getElementById("viewer-prev").disabled = i <= 0;
  document.getElementById("viewer-next").disabled = i < 0 || i >= all.length - 1;
  document.getElementById("viewer-count").textContent = all.length > 1 ? `${i + 1} of ${all.length}` : "";
}

function step(delta) {
  const all = viewerTargets();
  const next = all[all.indexOf(viewerFrom) + delta];
  if (next) showInViewer(next);
}

/** Open the viewer on a photo's button. */
export function openViewer(button) {
  const dialog = document.getElementById("viewer");
  showInViewer(button);
  if (!dialog.open) dialog.showModal();
  document.getElementById("viewer-close").focus();
}

/** Wire the viewer's controls (once, at start-up). */
export function initViewer() {
  const dialog = document.getElementById("viewer");
  const from = () => viewerFrom;
  document.getElementById("viewer-close").addEventListener("click", () => dialog.close());
  document.getElementById("viewer-prev").addEventListener("click", () => step(-1));
  document.getElementById("viewer-next").addEventListener("click", () => step(1));
  dialog.addEventListener("keydown", (e) => {
    if (e.key === "ArrowLeft") { e.preventDefault(); step(-1); }
    if (e.key === "ArrowRight") { e.preventDefault(); step(1); }
  });
  dialog.addEventListener("click", (e) => { if (e.target === dialog) dialog.close(); });
  dialog.addEventListener("close", () => {
    document.getElementById("viewer-image").removeAttribute("src");
    if (from()?.isConnected) from().focus();
  });
}

/** The attachments of a message, in order (null when it has none). */
export function mediaList(msg, mine) {
  const items = (msg.media || []);
  if (!items.length) return null;
  return h("div", { class: "media-list" }, ...items.map((m) => mediaItem(m, mine)));
}
