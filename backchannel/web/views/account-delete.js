/**
 * "Delete your account" in the settings dialog: first what it does on this server
 * (GET /me/delete: the operator's rule for your messages, how long your handle is held),
 * then the password and a box to tick; POST /me/delete signs this device out, and the
 * sign-in screen says the account was deleted.
 */

import { request } from "../api.js";
import { byId } from "../dom.js";

let deleted = () => {};

/** @param {() => void} onDeleted closes the app (every device is signed out already) */
export function initAccountDelete(onDeleted) {
  deleted = onDeleted;
  byId("settings-delete-form").addEventListener("submit", (e) => { e.preventDefault(); submit(); });
  byId("settings-open").addEventListener("click", loadTerms);
}

async function loadTerms() {
  byId("settings-delete-error").textContent = "";
  byId("settings-delete-password").value = "";
  byId("settings-delete-confirm").checked = false;
  try {
    byId("settings-delete-what").textContent = describe(await request("GET", "/me/delete"));
  } catch (err) {
    byId("settings-delete-what").textContent = err.message;
  }
}

/** What happens, in words (the server's settings decide the part about messages). */
export function describe(terms) {
  const messages = terms.messages === "erase"
    ? "Every message you sent is erased for everyone; only “Message unsent” stays in its place."
    : "The messages you sent stay in other people's conversations, shown as from “Deleted user”.";
  const days = terms.handle_hold_days === 1 ? "1 day" : `${terms.handle_hold_days} days`;
  return `Your profile, devices, follows, groups and every file you uploaded are erased. ${messages} `
    + `Nobody can register your handle for ${days}. This can't be undone: download your data first if you want a copy.`;
}

async function submit() {
  const password = byId("settings-delete-password");
  const error = byId("settings-delete-error");
  error.textContent = "";
  if (!password.value) { error.textContent = "Enter your password to confirm it's you."; password.focus(); return; }
  const confirm = byId("settings-delete-confirm");
  if (!confirm.checked) { error.textContent = "Tick the box to say you understand."; confirm.focus(); return; }
  const button = byId("settings-delete-submit");
  button.disabled = true;
  try {
    await request("POST", "/me/delete", { password: password.value });
    password.value = "";
    deleted();
  } catch (err) {
    error.textContent = err.message;
    password.select();
    password.focus();
  } finally {
    button.disabled = false;
  }
}
