/** "Active now": the presence of the open direct conversation's other member (reciprocal:
 * only between people who both share their activity status). */

import { api } from "../api.js";
import { byId } from "../dom.js";
import { state } from "../state.js";

/** The open conversation's other member, for a direct conversation (else null). */
export function otherMember(conv) {
  if (!conv || conv.kind !== "direct") return null;
  return (conv.members || []).find((m) => m.id !== state.me.id && m.handle) || null;
}

/** Fetch the presence of the open direct conversation's other member. */
export async function fetchPresence() {
  const other = otherMember(state.convs.get(state.openId));
  renderPresence();
  if (!other) return;
  try {
    const reply = await api.presence([other.handle]);
    for (const p of reply.items || []) state.presence.set(p.user, p);
    renderPresence();
  } catch { /* presence is best effort */ }
}

/** Apply a `presence` frame. */
export function setPresence(frame) {
  if (!frame.user) return;
  state.presence.set(String(frame.user).toLowerCase(), frame);
  renderPresence();
}

/** @param {any} p @returns {string} "Active now", "Active 5 min ago", or "" */
export function presenceText(p) {
  if (!p) return "";
  if (p.active) return "Active now";
  if (!p.last_active_at) return "";
  const minutes = Math.floor((Date.now() - new Date(p.last_active_at).getTime()) / 60000);
  if (!Number.isFinite(minutes)) return "";
  if (minutes < 1) return "Active just now";
  if (minutes < 60) return `Active ${minutes} min ago`;
  if (minutes < 24 * 60) return `Active ${Math.floor(minutes / 60)} h ago`;
  const days = Math.floor(minutes / (24 * 60));
  return days < 7 ? `Active ${days} d ago` : "";
}

export function renderPresence() {
  const el = byId("presence");
  const other = otherMember(state.convs.get(state.openId));
  const conv = state.convs.get(state.openId);
  const text = other && !conv?.request && !conv?.awaiting_acceptance
    ? presenceText(state.presence.get(other.handle.toLowerCase())) : "";
  el.textContent = text;
  el.hidden = !text;
  el.classList.toggle("active", text === "Active now");
}

setInterval(() => { if (state.openId) renderPresence(); }, 30000);
