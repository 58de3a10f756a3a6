/**
 * Reporting and blocking: the report dialog `#report-dialog` (POST /reports, or a request
 * declined with block + report), and `#confirm-dialog`, the confirm step of actions that
 * are hard to undo (block, remove from a group, leave it).
 */

import { api } from "../api.js";
import { byId, h } from "../dom.js";
import { nameOf } from "../render.js";
import { state } from "../state.js";

/** The reasons the API takes (`reason`), as the user reads them. */
const REASONS = [
  ["spam", "Spam"],
  ["scam", "Scam or fraud"],
  ["harassment", "Harassment or bullying"],
  ["hate", "Hate speech or symbols"],
  ["nudity", "Nudity or sexual content"],
  ["violence", "Violence or threats"],
  ["self_harm", "Suicide or self-harm"],
  ["impersonation", "Pretending to be someone else"],
  ["underage", "Someone under age"],
  ["other", "Something else"],
];

/** The fields each kind of report names (any other field is refused by the API). */
const FIELDS = { user: ["user"], conversation: ["conversation_id"], message: ["conversation_id", "message_id"] };

let current = null;
let returnFocus = null;
let wired = false;

/** Wire both dialogs, once, on first use. */
function wire() {
  if (wired) return;
  wired = true;
  const dialog = byId("report-dialog");
  byId("report-reasons").append(...REASONS.map(([value, label]) => h("label", { class: "reason" },
    h("input", { type: "radio", name: "report-reason", value }), label)));
  byId("report-form").addEventListener("submit", (e) => { e.preventDefault(); submit(); });
  for (const id of ["report-close", "report-cancel", "report-done-close"]) {
    byId(id).addEventListener("click", () => dialog.close());
  }
  dialog.addEventListener("click", (e) => { if (e.target === dialog) dialog.close(); });
  dialog.addEventListener("close", () => {
    current = null;
    restoreFocus(returnFocus);
  });
  const confirm = byId("confirm-dialog");
  byId("confirm-cancel").addEventListener("click", () => confirm.close());
  byId("confirm-ok").addEventListener("click", runConfirmed);
  confirm.addEventListener("close", () => {
    const pending = confirming;
    confirming = null;
    restoreFocus(pending?.returnFocus);
  });
}

/** Focus `el` if it is still shown, else the conversation menu's button, else the page. */
function restoreFocus(el) {
  const target = el?.isConnected && el.offsetParent !== null ? el : byId("conversation-menu");
  if (target.offsetParent !== null) target.focus();
}

/**
 * Open the report dialog.
 * @param {{kind: "user"|"message"|"conversation", user?: string, conversation_id?: string,
 *   message_id?: string}} target what is reported
 * @param {{heading?: string, submitLabel?: string,
 *   send?: (reason: string, comment: string) => Promise<any>, onDone?: () => void}} [opts]
 *   `send` replaces POST /reports (declining a request with a report); `onDone` runs after.
 */
export function openReport(target, opts = {}) {
  wire();
  const dialog = byId("report-dialog");
  current = { target, opts };
  returnFocus = document.activeElement;
  byId("report-title").textContent = opts.heading || defaultHeading(target);
  byId("report-submit").textContent = opts.submitLabel || "Report";
  for (const input of byId("report-reasons").querySelectorAll("input")) input.checked = false;
  byId("report-comment").value = "";
  byId("report-error").textContent = "";
  byId("report-submit").disabled = false;
  byId("report-form").hidden = false;
  byId("report-done").hidden = true;
  if (!dialog.open) dialog.showModal();
  byId("report-reasons").querySelector("input")?.focus();
}

function defaultHeading(target) {
  if (target.kind === "user") return `Report @${target.user}`;
  if (target.kind === "message") return "Report message";
  return "Report conversation";
}

async function submit() {
  if (!current) return;
  const { target, opts } = current;
  const reason = byId("report-reasons").querySelector("input:checked")?.value;
  if (!reason) {
    byId("report-error").textContent = "Pick a reason.";
    byId("report-reasons").querySelector("input")?.focus();
    return;
  }
  const comment = byId("report-comment").value.trim();
  byId("report-error").textContent = "";
  byId("report-submit").disabled = true;
  try {
    if (opts.send) {
      await opts.send(reason, comment);
    } else {
      const body = { kind: target.kind, reason, comment };
      for (const field of FIELDS[target.kind] || []) body[field] = target[field];
      await api.report(body);
    }
  } catch (err) {
    byId("report-error").textContent = err.message;
    byId("report-submit").disabled = false;
    return;
  }
  byId("report-form").hidden = true;
  byId("report-done").hidden = false;
  byId("report-done-close").focus();
  opts.onDone?.();
}

/* The confirm step. */

let confirming = null;

/**
 * Ask before doing something hard to undo; `action` runs on "confirm", and its error (the
 * server's message) stays shown in the dialog. With `done`, the dialog then says so.
 * @param {{title: string, text: string, confirmLabel: string, action: () => Promise<any>,
 *   done?: string}} ask
 * @returns {Promise<boolean>} whether the action ran and succeeded
 */
export function confirmAction(ask) {
  wire();
  const dialog = byId("confirm-dialog");
  if (confirming) confirming.resolve(false);
  return new Promise((resolve) => {
    confirming = { ...ask, resolve, returnFocus: document.activeElement };
    byId("confirm-title").textContent = ask.title;
    byId("confirm-text").textContent = ask.text;
    byId("confirm-error").textContent = "";
    const ok = byId("confirm-ok");
    ok.textContent = ask.confirmLabel;
    ok.disabled = false;
    ok.hidden = false;
    byId("confirm-cancel").textContent = "Cancel";
    if (!dialog.open) dialog.showModal();
    byId("confirm-cancel").focus(); // the safe choice first
    dialog.addEventListener("close", () => resolve(false), { once: true });
  });
}

async function runConfirmed() {
  const ask = confirming;
  if (!ask) return;
  const ok = byId("confirm-ok");
  ok.disabled = true;
  byId("confirm-error").textContent = "";
  try {
    await ask.action();
  } catch (err) {
    byId("confirm-error").textContent = err.message;
    ok.disabled = false;
    return;
  }
  ask.resolve(true);
  if (ask.done) {
    byId("confirm-text").textContent = ask.done;
    ok.hidden = true;
    byId("confirm-cancel").textContent = "Done";
    byId("confirm-cancel").focus();
  } else {
    byId("confirm-dialog").close();
  }
}

/* Wiring for the conversation pane. */

/** The other member of a direct conversation (null for a group, or a deleted account). */
function otherOf(conv) {
  if (conv?.kind !== "direct") return null;
  return (conv.members || []).find((m) => m.id !== state.me.id && m.handle) || null;
}

/** The conversation menu's "Report": the other person of a direct conversation, or the group. */
export function reportConversation(conv) {
  const other = otherOf(conv);
  if (other) openReport({ kind: "user", user: other.handle }, { heading: `Report ${nameOf(other)} (@${other.handle})` });
  else openReport({ kind: "conversation", conversation_id: conv.id }, { heading: "Report this group" });
}

/** The conversation menu's "Block" (direct conversations), after a confirm step. */
export function blockOther(conv, onBlocked = () => {}) {
  const other = otherOf(conv);
  if (!other) return;
  const name = nameOf(other);
  confirmAction({
    title: `Block ${name}?`,
    text: `@${other.handle} won't be able to message you, and won't see when you're active or have read their messages. They aren't told.`,
    confirmLabel: "Block",
    action: () => api.block(other.handle),
    done: `You blocked ${name}. You can unblock them in Settings.`,
  }).then((ok) => { if (ok) onBlocked(); });
}

/**
 * The request bar's "Block and report": decline the request, block its sender and report
 * them, in one call.
 * @param {any} conv a pending request
 * @param {() => void} onDone the request is gone
 */
export function blockAndReport(conv, onDone) {
  const handle = conv.request?.from || otherOf(conv)?.handle;
  if (!handle) return;
  openReport({ kind: "user", user: handle }, {
    heading: `Block and report @${handle}`,
    submitLabel: "Block and report",
    send: (reason, comment) => api.decline(conv.id, true, { reason, comment }),
    onDone,
  });
}
