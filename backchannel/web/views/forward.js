/** Forwarding a message: the picker (`#forward-picker`) of conversations to send it to. */

import { api } from "../api.js";
import { byId, h } from "../dom.js";
import { conversationTitle } from "../render.js";
import { state } from "../state.js";
import { noteMessage } from "./conversation.js";
import { closeMenu } from "./menu.js";

/** The conversations a message can be forwarded to: accepted ones of mine. */
function forwardTargets() {
  return [...state.convs.values()]
    .filter((c) => (c.folder === "primary" || c.folder === "general") && !c.awaiting_acceptance)
    .sort((a, b) => (b.last_activity_position || 0) - (a.last_activity_position || 0));
}

export function openForward(msg) {
  closeMenu();
  const list = byId("forward-list");
  const targets = forwardTargets();
  list.replaceChildren(...targets.map((c) => h("li", {},
    h("button", { type: "button", class: "forward-target", dataset: { id: c.id },
      text: conversationTitle(c, state.me), on: { click: () => forward(msg, c.id) } }))));
  if (!targets.length) list.append(h("li", { class: "status", text: "No conversations to forward to." }));
  byId("forward-picker").hidden = false;
  list.querySelector("button")?.focus();
}

export function closeForward() {
  byId("forward-picker").hidden = true;
  byId("forward-list").replaceChildren();
}

async function forward(msg, targetId) {
  closeForward();
  try {
    const reply = await api.forward(msg.conversation_id, msg.id, [targetId]);
    for (const m of reply.items || []) {
      if (state.convs.has(m.conversation_id)) noteMessage(m);
    }
    byId("composer-error").textContent = "";
  } catch (err) {
    byId("composer-error").textContent = err.message;
  }
}
