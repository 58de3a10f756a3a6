/**
 * Notifications: the unread count in the title and the favicon, an optional chime, and
 * desktop notifications while the page is in the background. Only unmuted, accepted
 * conversations (Primary and General) count or notify; requests and my own messages never.
 * The choices are this browser's own (localStorage), not the account's.
 */

import { api } from "../api.js";
import { byId } from "../dom.js";
import { conversationTitle, nameOf } from "../render.js";
import { isMuted, state, totalUnread } from "../state.js";
import { openConversation } from "./conversation.js";
import { selectFolder } from "./inbox.js";

const PREFS = { desktop: "bc.notify.desktop", previews: "bc.notify.previews", sound: "bc.notify.sound" };
/** Messages older than this when their event arrives are replays (a reconnect), not news. */
const FRESH_MS = 5 * 60 * 1000;
const ICON_SIZE = 64;

let shownCount = -1;
/** Message ids already announced (a replayed event must not chime twice). */
const announced = new Set();
/** Desktop notifications still on screen, closed when the page gets the focus back. */
const open = new Set();
let audio = null;

/** @param {"desktop"|"previews"|"sound"} name */
function pref(name) {
  const value = localStorage.getItem(PREFS[name]);
  return name === "previews" ? value !== "0" : value === "1";
}

function setPref(name, on) { localStorage.setItem(PREFS[name], on ? "1" : "0"); }

const canNotify = () => "Notification" in window;

/** "(3) Backchannel" and a badge on the favicon while anything unmuted is unread. */
export function renderUnread() {
  const n = totalUnread();
  document.title = n > 0 ? `(${n}) Backchannel` : "Backchannel";
  if (n === shownCount) return;
  shownCount = n;
  const link = document.querySelector('link[rel="icon"]');
  if (link) link.href = favicon(n);
}

/** @param {number} n @returns {string} a PNG data: URL: a speech bubble, with `n` in a red badge */
function favicon(n) {
  const canvas = document.createElement("canvas");
  canvas.width = ICON_SIZE;
  canvas.height = ICON_SIZE;
  const ctx = canvas.getContext("2d");
  if (!ctx) return "data:,";
  ctx.fillStyle = "#3b5bdb";
  ctx.beginPath();
  ctx.arc(28, 30, 24, 0, 2 * Math.PI);
  ctx.moveTo(10, 44);
  ctx.lineTo(6, 60);
  ctx.lineTo(24, 52);
  ctx.fill();
  if (n > 0) {
    const text = n > 99 ? "99+" : String(n);
    ctx.fillStyle = "#e03131";
    ctx.beginPath();
    ctx.arc(44, 20, 20, 0, 2 * Math.PI);
    ctx.fill();
    ctx.fillStyle = "#ffffff";
    ctx.font = `bold ${text.length > 2 ? 18 : text.length > 1 ? 24 : 30}px sans-serif`;
    ctx.textAlign = "center";
    ctx.textBaseline = "middle";
    ctx.fillText(text, 44, 21);
  }
  return canvas.toDataURL("image/png");
}

/** Whether `conv` is one whose news I hear of: accepted, and not muted. */
function announces(conv) {
  return (conv.folder === "primary" || conv.folder === "general") && !conv.request && !isMuted(conv);
}

const away = () => document.visibilityState !== "visible" || !document.hasFocus();

/**
 * A message arrived on the stream (call for every `message.created`): chime and show a
 * desktop notification as the preferences say. Best effort; never throws.
 * @param {any} msg
 */
export async function notifyMessage(msg) {
  if (!state.me || msg.sender?.id === state.me.id || msg.unsent || announced.has(msg.id)) return;
  const at = Date.parse(msg.created_at);
  if (Number.isFinite(at) && Date.now() - at > FRESH_MS) return;
  let conv = state.convs.get(msg.conversation_id);
  if (!conv) {
    try { conv = await api.conversation(msg.conversation_id); } catch { return; }
  }
  if (!announces(conv) || msg.position <= (conv.read_position || 0)) return;
  if (announced.size > 1000) announced.clear();
  announced.add(msg.id);
  const background = away();
  if (pref("sound") && (background || state.openId !== conv.id)) chime();
  if (background && pref("desktop") && canNotify() && Notification.permission === "granted") show(conv, msg);
}

function show(conv, msg) {
  const sender = nameOf(msg.sender);
  const title = conv.kind === "group" ? `${sender} in ${conversationTitle(conv, state.me)}` : sender;
  const body = !pref("previews") ? "New message"
    : msg.text || (msg.media?.length ? "Sent an attachment" : "New message");
  let note;
  try {
    note = new Notification(title, { body, tag: msg.id });
  } catch {
    return; // some browsers only allow notifications from a service worker
  }
  if (!open.size) window.addEventListener("focus", closeAll, { once: true });
  open.add(note);
  note.onclose = () => open.delete(note);
  note.onclick = () => {
    window.focus();
    note.close();
    open.delete(note);
    const known = state.convs.get(conv.id) || conv;
    if (known.folder !== state.folder) selectFolder(known.folder);
    openConversation(conv.id);
  };
}

function closeAll() {
  for (const note of open) note.close();
  open.clear();
}

function audioContext() {
  const Ctx = window.AudioContext || window.webkitAudioContext;
  if (!audio && Ctx) audio = new Ctx();
  if (audio?.state === "suspended") audio.resume().catch(() => {});
  return audio;
}

/** A short two-tone chime from an oscillator (no sound file). */
function chime() {
  const ctx = audioContext();
  if (!ctx) return;
  const t = ctx.currentTime;
  const osc = ctx.createOscillator();
  const gain = ctx.createGain();
  osc.type = "sine";
  osc.frequency.setValueAtTime(880, t);
  osc.frequency.setValueAtTime(660, t + 0.12);
  gain.gain.setValueAtTime(0.0001, t);
  gain.gain.exponentialRampToValueAtTime(0.15, t + 0.02);
  gain.gain.exponentialRampToValueAtTime(0.0001, t + 0.3);
  osc.connect(gain).connect(ctx.destination);
  osc.start(t);
  osc.stop(t + 0.32);
}

/* Settings → Notifications. */

/** Wire the Notifications checkboxes of the settings dialog. */
export function initNotifySettings() {
  const desktop = byId("settings-notify-desktop");
  desktop.addEventListener("change", async () => {
    if (!desktop.checked) { setPref("desktop", false); fillNotifySettings(); return; }
    if (!canNotify()) { desktop.checked = false; say("This browser can't show notifications."); return; }
    // Asked from the click itself: browsers refuse permission prompts that no gesture caused.
    const permission = Notification.permission === "default"
      ? await Notification.requestPermission() : Notification.permission;
    setPref("desktop", permission === "granted");
    fillNotifySettings();
  });
  byId("settings-notify-previews").addEventListener("change", (e) => setPref("previews", e.target.checked));
  byId("settings-notify-sound").addEventListener("change", (e) => {
    setPref("sound", e.target.checked);
    if (e.target.checked) chime(); // a sample, and the click lets the page play sound
  });
  // Browsers only start audio after a gesture on the page: take the first one.
  document.addEventListener("pointerdown", () => { if (pref("sound")) audioContext(); }, { once: true });
}

function say(text) { byId("settings-notify-status").textContent = text; }

/** Show the stored choices (and what the browser allows) in the settings dialog. */
export function fillNotifySettings() {
  const permission = canNotify() ? Notification.permission : "unsupported";
  const desktop = byId("settings-notify-desktop");
  desktop.checked = pref("desktop") && permission === "granted";
  desktop.disabled = permission === "unsupported";
  byId("settings-notify-previews").checked = pref("previews");
  byId("settings-notify-previews").disabled = !desktop.checked;
  byId("settings-notify-sound").checked = pref("sound");
  say(permission === "denied" ? "Notifications are blocked for this site: allow them in your browser's site settings."
    : permission === "unsupported" ? "This browser can't show notifications." : "");
}
