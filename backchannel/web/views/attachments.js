/**
 * The composer's attachments: `#attach` opens `input#file`; each chosen file uploads at once
 * (XMLHttpRequest, for progress) and shows as a chip `.attachment` in `#attachments`, with
 * `data-media-id` once the server has it.
 */

import { upload } from "../api.js";
import { byId, h } from "../dom.js";

const MAX_ATTACHMENTS = 10;

/** @type {{id: string|null, file: File, chip: HTMLElement, abort: Function, preview: string|null, failed: boolean}[]} */
let items = [];

export function initAttachments() {
  const input = byId("file");
  byId("attach").addEventListener("click", () => input.click());
  input.addEventListener("change", () => {
    for (const file of input.files) addFile(file);
    input.value = "";
  });
}

/** @param {number} bytes @returns {string} "12 KB" */
export function formatSize(bytes) {
  if (!Number.isFinite(bytes)) return "";
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${Math.round(bytes / 1024)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

function addFile(file) {
  const error = byId("composer-error");
  if (items.length >= MAX_ATTACHMENTS) {
    error.textContent = `A message can carry at most ${MAX_ATTACHMENTS} attachments.`;
    return;
  }
  const isImage = file.type.startsWith("image/");
  const isVideo = file.type.startsWith("video/");
  const preview = isImage || isVideo ? URL.createObjectURL(file) : null;
  const bar = h("progress", { class: "attachment-progress", max: 1, value: 0,
    attrs: { "aria-label": `Uploading ${file.name}` } });
  const status = h("span", { class: "attachment-status", text: "Uploading…", attrs: { role: "status" } });
  const remove = h("button", { type: "button", class: "attachment-remove", text: "×",
    attrs: { "aria-label": `Remove ${file.name}` } });
  const chip = h("li", { class: "attachment uploading" },
    thumb(file, preview, isVideo),
    h("span", { class: "attachment-main" },
      h("span", { class: "attachment-name", text: file.name, title: file.name }),
      bar, status),
    remove);
  const { promise, abort } = upload(file, {}, (f) => { bar.value = f; });
  const item = { id: null, file, chip, abort, preview, failed: false };
  items.push(item);
  remove.addEventListener("click", () => removeItem(item, true));
  byId("attachments").append(chip);
  byId("attachments").hidden = false;
  promise.then((media) => {
    item.id = media.id;
    chip.dataset.mediaId = media.id;
    chip.classList.remove("uploading");
    bar.hidden = true;
    status.textContent = formatSize(media.size ?? file.size);
  }, (err) => {
    if (err.code === "aborted") return;
    item.failed = true;
    chip.classList.remove("uploading");
    chip.classList.add("failed");
    bar.hidden = true;
    status.textContent = err.message;
    status.classList.add("form-error");
  });
}

/** A chip's picture: the photo, the video's first frame, or an icon for the kind of file. */
function thumb(file, preview, isVideo) {
  if (preview && isVideo) {
    return h("video", { class: "attachment-thumb", src: preview, muted: true, preload: "metadata",
      attrs: { "aria-hidden": "true" } });
  }
  if (preview) return h("img", { class: "attachment-thumb", src: preview, alt: "" });
  const icon = file.type.startsWith("audio/") ? "🎵" : "📄";
  return h("span", { class: "attachment-icon", text: icon, attrs: { "aria-hidden": "true" } });
}

function removeItem(item, focusNext) {
  if (!item.id && !item.failed) item.abort();
  if (item.preview) URL.revokeObjectURL(item.preview);
  const i = items.indexOf(item);
  if (i >= 0) items.splice(i, 1);
  item.chip.remove();
  byId("attachments").hidden = items.length === 0;
  if (focusNext) (items[Math.min(i, items.length - 1)]?.chip.querySelector("button") || byId("composer")).focus();
}

/** @returns {boolean} whether some file is still uploading */
export const uploading = () => items.some((i) => !i.id && !i.failed);

/** @returns {boolean} whether some upload failed (its chip says why) */
export const anyFailed = () => items.some((i) => i.failed);

/** @returns {string[]} the ids of the uploaded files, in order */
export const mediaIds = () => items.filter((i) => i.id).map((i) => i.id);

/** Take the chips away (sent, or the conversation changed). */
export function clearAttachments() {
  for (const item of [...items]) removeItem(item, false);
}
