/**
 * The settings dialog `#settings`: profile (PATCH /me), who may message you and the
 * reciprocal receipts / activity switches (PATCH /me/settings, saved on change), hidden
 * words (PUT /me/hidden-words), the blocked list (DELETE /users/{h}/block), this browser's
 * notification choices, and the devices signed in (GET /sessions, DELETE /sessions/{id}).
 */

import { api, getToken, saveSession } from "../api.js";
import { byId, focusAdrift, h } from "../dom.js";
import { longTime, nameOf } from "../render.js";
import { state } from "../state.js";
import { fillNotifySettings, initNotifySettings } from "./notify.js";

let onChanged = () => {};

/**
 * @param {{onProfile?: (me: any) => void, onSettings?: (settings: any) => void}} [hooks]
 */
export function initSettings(hooks = {}) {
  onChanged = hooks;
  const dialog = byId("settings");
  byId("settings-open").addEventListener("click", openSettings);
  byId("settings-close").addEventListener("click", () => dialog.close());
  dialog.addEventListener("close", () => { if (focusAdrift(dialog)) byId("settings-open").focus(); });
  // A click on the backdrop (outside the dialog's box) closes it.
  dialog.addEventListener("click", (e) => { if (e.target === dialog) dialog.close(); });

  byId("settings-profile").addEventListener("submit", async (e) => {
    e.preventDefault();
    const button = byId("settings-save-profile");
    button.disabled = true;
    await save(async () => {
      const me = await api.patchMe({
        display_name: byId("settings-display-name").value.trim(),
        bio: byId("settings-bio").value,
      });
      state.me = { ...state.me, ...me };
      saveSession(getToken(), state.me);
      onChanged.onProfile?.(state.me);
    });
    button.disabled = false;
  });

  for (const [id, key] of [["settings-dm-inbox", "dm_inbox"], ["settings-dm-requests", "dm_requests"]]) {
    byId(id).addEventListener("change", (e) => patch({ [key]: e.target.value }));
  }
  for (const [id, key] of [["settings-read-receipts", "read_receipts"], ["settings-activity-status", "activity_status"]]) {
    byId(id).addEventListener("change", (e) => patch({ [key]: e.target.checked }));
  }

  byId("settings-words").addEventListener("submit", async (e) => {
    e.preventDefault();
    const button = byId("settings-save-words");
    button.disabled = true;
    await save(async () => {
      const words = [...new Set(byId("settings-hidden-words").value.split("\n").map((w) => w.trim()).filter(Boolean))];
      const reply = await api.putHiddenWords(words);
      byId("settings-hidden-words").value = (reply.words || []).join("\n");
    });
    button.disabled = false;
  });

  initNotifySettings();
  byId("settings-logout-others").addEventListener("click", logoutOthers);
}

/** Run a change; the status line says "Saved" or the server's reason. */
async function save(fn) {
  const status = byId("settings-status");
  status.textContent = "Saving…";
  status.classList.remove("error");
  try {
    await fn();
    status.textContent = "Saved";
    return true;
  } catch (err) {
    status.textContent = err.message;
    status.classList.add("error");
    return false;
  }
}

async function patch(changes) {
  const ok = await save(async () => {
    const settings = await api.patchSettings(changes);
    fillSettings(settings);
    onChanged.onSettings?.(settings, changes);
  });
  if (!ok) loadSettings(); // show what is really stored
}

function fillSettings(s) {
  if (s.dm_inbox) byId("settings-dm-inbox").value = s.dm_inbox;
  if (s.dm_requests) byId("settings-dm-requests").value = s.dm_requests;
  byId("settings-read-receipts").checked = !!s.read_receipts;
  byId("settings-activity-status").checked = !!s.activity_status;
}

async function loadSettings() {
  try { fillSettings(await api.settings()); } catch (err) { byId("settings-status").textContent = err.message; }
}

/** Open the dialog and fetch everything it shows afresh. */
export async function openSettings() {
  const dialog = byId("settings");
  const status = byId("settings-status");
  status.textContent = "";
  status.classList.remove("error");
  byId("settings-display-name").value = state.me?.display_name || "";
  byId("settings-bio").value = state.me?.bio || "";
  if (!dialog.open) dialog.showModal();
  fillNotifySettings();
  const results = await Promise.allSettled([
    api.me().then((me) => {
      state.me = { ...state.me, ...me };
      byId("settings-display-name").value = me.display_name || "";
      byId("settings-bio").value = me.bio || "";
    }),
    loadSettings(),
    api.hiddenWords().then((r) => { byId("settings-hidden-words").value = (r.words || []).join("\n"); }),
    loadBlocks(),
    loadDevices(),
  ]);
  const failed = results.find((r) => r.status === "rejected");
  if (failed) status.textContent = failed.reason.message;
}

async function loadBlocks() {
  const list = byId("settings-blocked");
  const reply = await api.blocks();
  const items = reply.items || [];
  if (!items.length) {
    list.replaceChildren(h("li", { class: "blocked-empty", text: "You haven't blocked anyone." }));
    return;
  }
  list.replaceChildren(...items.map((user) => {
    const label = user.handle ? `${nameOf(user)} (@${user.handle})` : nameOf(user);
    const button = h("button", { type: "button", class: "unblock", text: "Unblock",
      attrs: { "aria-label": `Unblock ${label}` } });
    const li = h("li", { class: "blocked", dataset: { handle: user.handle || "" } },
      h("span", { class: "blocked-name", text: label }), user.handle ? button : null);
    button.addEventListener("click", async () => {
      button.disabled = true;
      const ok = await save(() => api.unblock(user.handle));
      if (ok) {
        const next = li.nextElementSibling || li.previousElementSibling;
        li.remove();
        if (!list.children.length) list.replaceChildren(h("li", { class: "blocked-empty", text: "You haven't blocked anyone." }));
        (next?.querySelector("button") || byId("settings-close")).focus();
      } else {
        button.disabled = false;
      }
    });
    return li;
  }));
}

/** Sessions other than this one, as last listed. */
let otherSessions = [];

/** @param {string} iso @returns {string} "5 min ago", "3 h ago", or a date */
function ago(iso) {
  const minutes = Math.floor((Date.now() - new Date(iso).getTime()) / 60000);
  if (!Number.isFinite(minutes)) return "";
  if (minutes < 1) return "just now";
  if (minutes < 60) return `${minutes} min ago`;
  if (minutes < 24 * 60) return `${Math.floor(minutes / 60)} h ago`;
  return new Date(iso).toLocaleDateString();
}

async function loadDevices() {
  const list = byId("settings-devices");
  const items = (await api.sessions()).items || [];
  items.sort((a, b) => Number(b.current) - Number(a.current) || (b.last_used_at > a.last_used_at ? 1 : -1));
  otherSessions = items.filter((x) => !x.current);
  byId("settings-logout-others").hidden = otherSessions.length === 0;
  list.replaceChildren(...items.map((session) => {
    const meta = `Signed in ${longTime(session.created_at)} · last active ${session.current ? "now" : ago(session.last_used_at)}`;
    const li = h("li", { class: "device", dataset: { id: session.id } },
      h("span", { class: "device-main" },
        h("span", { class: "device-name", text: session.device_name }),
        session.current ? h("span", { class: "device-current", text: "This device" }) : null,
        h("span", { class: "device-meta hint", text: meta })));
    if (!session.current) {
      const button = h("button", { type: "button", class: "device-logout", text: "Log out",
        attrs: { "aria-label": `Log out ${session.device_name}, signed in ${longTime(session.created_at)}` } });
      button.addEventListener("click", async () => {
        button.disabled = true;
        const ok = await save(() => api.revokeSession(session.id));
        if (!ok) { button.disabled = false; return; }
        const next = li.nextElementSibling || li.previousElementSibling;
        await loadDevices().catch(() => li.remove());
        (list.querySelector(`[data-id="${CSS.escape(next?.dataset.id || "")}"] button`) || byId("settings-close")).focus();
      });
      li.append(button);
    }
    return li;
  }));
}

/** Revoke every session but this one (one call each: the API has no bulk revoke). */
async function logoutOthers() {
  const button = byId("settings-logout-others");
  button.disabled = true;
  await save(async () => {
    const results = await Promise.allSettled(otherSessions.map((x) => api.revokeSession(x.id)));
    const failed = results.find((r) => r.status === "rejected" && r.reason.code !== "session_not_found");
    if (failed) throw failed.reason;
  });
  await loadDevices().catch(() => {});
  button.disabled = false;
  byId("settings-close").focus();
}
