/**
 * The composer's emoji picker: `#emoji-open` opens `#emoji-picker`, a grid of common emoji
 * (arrow keys move, Escape closes and gives the focus back); a pick goes in at the caret.
 */

import { emojiGrid } from "../bubbles.js";
import { byId } from "../dom.js";

const EMOJI = [
  "😀", "😂", "🥲", "😊", "😍", "🥰", "😘", "😉",
  "😎", "🤔", "😮", "😢", "😭", "😡", "😴", "🤯",
  "🥳", "😅", "🙃", "🤗", "👍", "👎", "👏", "🙌",
  "🙏", "💪", "👋", "🤝", "❤️", "💔", "🔥", "✨",
  "🎉", "💯", "✅", "❌", "👀", "☕", "🍕", "🌟",
];
const COLUMNS = 8;

/** Where the caret was when the picker opened (the focus leaves the composer). */
let selection = { start: 0, end: 0 };

export function initEmoji() {
  const button = byId("emoji-open");
  const picker = byId("emoji-picker");
  picker.replaceChildren(emojiGrid(EMOJI, {
    label: "Emoji", columns: COLUMNS, onPick: insert, onEscape: () => closeEmoji(true),
  }));
  button.addEventListener("click", () => { if (picker.hidden) open(); else closeEmoji(true); });
  document.addEventListener("pointerdown", (e) => {
    if (!picker.hidden && !picker.contains(e.target) && !button.contains(e.target)) closeEmoji(false);
  }, true);
  picker.addEventListener("focusout", (e) => {
    if (e.relatedTarget && !picker.contains(e.relatedTarget) && e.relatedTarget !== button) closeEmoji(false);
  });
}

function open() {
  const composer = byId("composer");
  selection = { start: composer.selectionStart ?? composer.value.length, end: composer.selectionEnd ?? composer.value.length };
  byId("emoji-picker").hidden = false;
  byId("emoji-open").setAttribute("aria-expanded", "true");
  byId("emoji-picker").querySelector("button[tabindex='0']")?.focus();
}

/** Close the picker; `refocus`: give the focus back to its button. */
export function closeEmoji(refocus = false) {
  const picker = byId("emoji-picker");
  if (picker.hidden) return;
  picker.hidden = true;
  byId("emoji-open").setAttribute("aria-expanded", "false");
  if (refocus) byId("emoji-open").focus();
}

/** Put `emoji` in place of the composer's selection, leave the caret after it. */
function insert(emoji) {
  const composer = byId("composer");
  const end = Math.min(selection.end, composer.value.length);
  const start = Math.min(selection.start, end);
  closeEmoji(false);
  composer.focus();
  composer.setRangeText(emoji, start, end, "end");
  composer.dispatchEvent(new Event("input", { bubbles: true })); // grow, and say "typing"
}
