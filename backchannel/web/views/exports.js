/**
 * "Download your data" in the settings dialog: ask for an export (POST /me/exports), watch
 * it being made (its `progress`, live from `export.updated`), and download the ZIP by its
 * signed link once ready (GET /me/exports for a fresh link: events carry none).
 */

import { request } from "../api.js";
import { byId } from "../dom.js";
import { longTime } from "../render.js";

/** Bind the button; the section fills whenever the settings dialog opens. */
export function initExports() {
  byId("settings-export-request").addEventListener("click", requestExport);
  byId("settings-open").addEventListener("click", loadExports);
}

/** An `export.updated` event: show it, fetching a download link once it is ready. */
export function exportUpdated(exp) {
  if (exp.state === "ready") return loadExports();
  render(exp);
  return undefined;
}

async function requestExport() {
  const button = byId("settings-export-request");
  button.disabled = true;
  try {
    render(await request("POST", "/me/exports"));
  } catch (err) {
    showStatus(err.message, true);
    button.disabled = false;
  }
}

async function loadExports() {
  try {
    const reply = await request("GET", "/me/exports");
    render(reply.items[0] || null);
  } catch (err) {
    showStatus(err.message, true);
  }
}

/** Show the newest export (null: none yet). Text is set as text, never as HTML. */
function render(exp) {
  const bar = byId("settings-export-progress");
  const link = byId("settings-export-link");
  const busy = !!exp && (exp.state === "queued" || exp.state === "running");
  byId("settings-export-request").disabled = busy;
  bar.hidden = !busy;
  link.hidden = true;
  if (!exp) { showStatus("", false); return; }
  if (busy) {
    bar.max = Math.max(exp.progress.total, 1);
    bar.value = exp.progress.done;
    showStatus(`Preparing your data… step ${exp.progress.done} of ${exp.progress.total}`, false);
  } else if (exp.state === "ready" && exp.download_url) {
    link.href = exp.download_url;
    link.hidden = false;
    showStatus(`Ready (${formatSize(exp.size)}), until ${longTime(exp.expires_at)}.`, false);
  } else if (exp.state === "failed") {
    showStatus("Preparing your data failed. Try again.", true);
  } else {
    showStatus("Your last export expired.", false);
  }
}

function showStatus(text, error) {
  const status = byId("settings-export-status");
  status.textContent = text;
  status.classList.toggle("error", error);
}

function formatSize(bytes) {
  if (bytes >= 1024 * 1024) return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
  return `${Math.max(1, Math.round(bytes / 1024))} KB`;
}
