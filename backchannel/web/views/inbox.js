/** The inbox pane: folder tabs, the conversation list and the "New message" box. */

import { api } from "../api.js";
import { byId } from "../dom.js";
import { conversationRow } from "../render.js";
import { state, upsertConv } from "../state.js";
import { renderUnread } from "./notify.js";
import { peopleSearch } from "./people.js";

const FOLDERS = ["primary", "general", "requests", "hidden", "archived"];

/**
 * Whether a cached conversation belongs in an inbox tab: archived ones (and groups hidden
 * until their next activity) leave Primary and General; "archived" is a flag, not a folder.
 */
export function inFolder(conv, folder) {
  if (folder === "archived") return !!conv.archived && (conv.folder === "primary" || conv.folder === "general");
  if (folder === "primary" || folder === "general") return conv.folder === folder && !conv.archived && !conv.hidden;
  return conv.folder === folder;
}
let openHandler = () => {};
/** The last folder fetch's error message ("" when it worked). */
let loadError = "";

/**
 * Wire the tabs and the new-message form.
 * @param {(id: string) => void} onOpen opens a conversation
 */
export function initInbox(onOpen) {
  openHandler = onOpen;
  for (const folder of FOLDERS) {
    document.querySelector(`[data-folder="${folder}"]`).addEventListener("click", () => selectFolder(folder));
  }
  initNewMessage();
  initNewGroup();
}

/** Show a folder's tab and fetch its conversations. */
export async function selectFolder(folder) {
  state.folder = folder;
  for (const f of FOLDERS) {
    document.querySelector(`[data-folder="${f}"]`).setAttribute("aria-pressed", String(f === folder));
  }
  renderInbox();
  await loadFolder(folder);
}

/**
 * Fetch one folder and replace what the cache holds for it.
 * @param {string} folder
 */
export async function loadFolder(folder) {
  try {
    const page = await api.inbox(folder);
    const ids = new Set(page.items.map((c) => c.id));
    for (const [id, c] of state.convs) {
      if (inFolder(c, folder) && !ids.has(id) && id !== state.openId) state.convs.delete(id);
    }
    for (const c of page.items) upsertConv(c);
    loadError = "";
  } catch (err) {
    loadError = err.message;
  }
  renderInbox();
}

const byActivity = (a, b) => (Number(!!b.pinned) - Number(!!a.pinned))
  || ((b.last_activity_position || 0) - (a.last_activity_position || 0));

/** Re-render the list of the current folder (keyed by conversation id) and the title. */
export function renderInbox() {
  const list = byId("conversations");
  const existing = new Map([...list.children].map((li) => [li.dataset.id, li]));
  const convs = [...state.convs.values()].filter((c) => inFolder(c, state.folder)).sort(byActivity);
  const rows = convs.map((c) => conversationRow(existing.get(c.id) || null, c, state.me, c.id === state.openId, openHandler));
  const same = rows.length === list.children.length && rows.every((li, i) => list.children[i] === li);
  if (!same) list.replaceChildren(...rows);
  byId("inbox-status").textContent = loadError || (rows.length ? "" : emptyText(state.folder));
  updateTitle();
}

function emptyText(folder) {
  if (folder === "requests") return "No message requests.";
  if (folder === "hidden") return "No hidden requests.";
  if (folder === "archived") return "No archived conversations.";
  return "No conversations yet.";
}

/** "(2) Backchannel" and a favicon badge while anything unmuted is unread. */
export function updateTitle() { renderUnread(); }

const CAN_MESSAGE_TEXT = {
  direct: (h) => `You can message @${h}.`,
  request: (h) => `@${h} will get your message as a request.`,
  none: (h) => `@${h} doesn't accept messages from you.`,
};

function initNewMessage() {
  const form = byId("new-form");
  const input = byId("new-handle");
  const status = byId("new-status");
  let timer = 0;
  let asked = "";
  peopleSearch(input, {
    onPick: (user) => { input.value = user.handle; form.requestSubmit(); },
  });

  input.addEventListener("input", () => {
    clearTimeout(timer);
    status.textContent = "";
    const handle = input.value.trim().replace(/^@/, "").toLowerCase();
    if (handle.length < 3) return;
    timer = setTimeout(async () => {
      asked = handle;
      try {
        const reply = await api.canMessage(handle);
        if (asked === handle) status.textContent = CAN_MESSAGE_TEXT[reply.can_message]?.(handle) || "";
      } catch (err) {
        if (asked === handle) status.textContent = err.message;
      }
    }, 350);
  });

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    clearTimeout(timer);
    const handle = input.value.trim().replace(/^@/, "");
    if (!handle) { status.textContent = "Type a handle first."; return; }
    byId("new-open").disabled = true;
    try {
      const conv = upsertConv(await api.openDirect(handle));
      input.value = "";
      status.textContent = "";
      renderInbox();
      openHandler(conv.id);
    } catch (err) {
      status.textContent = err.message;
    } finally {
      byId("new-open").disabled = false;
    }
  });
}

function initNewGroup() {
  const form = byId("new-group-form");
  const status = byId("new-group-status");
  const members = byId("new-group-members");
  // Suggestions for the handle being typed (the last of the list); picking one completes it.
  const parts = () => members.value.split(/[\s,]+/);
  peopleSearch(members, {
    term: () => parts().at(-1) || "",
    onPick: (user) => {
      const chosen = parts().slice(0, -1).filter(Boolean);
      if (!chosen.includes(user.handle)) chosen.push(user.handle);
      members.value = `${chosen.join(", ")}, `;
      members.focus();
    },
  });
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const title = byId("new-group-title").value.trim();
    const members = [...new Set(byId("new-group-members").value.split(/[\s,]+/)
      .map((x) => x.trim().replace(/^@/, "")).filter(Boolean))];
    if (!members.length) { status.textContent = "Add at least one handle."; return; }
    byId("new-group-create").disabled = true;
    status.textContent = "";
    try {
      const conv = upsertConv(await api.createGroup(members, title));
      byId("new-group-title").value = "";
      byId("new-group-members").value = "";
      if (!inFolder(conv, state.folder)) await selectFolder(conv.folder === "general" ? "general" : "primary");
      renderInbox();
      openHandler(conv.id);
    } catch (err) {
      status.textContent = err.message;
    } finally {
      byId("new-group-create").disabled = false;
    }
  });
}
