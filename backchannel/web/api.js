/**
 * REST client for /api/v1. The bearer token lives in localStorage under `bc.token`.
 */

const TOKEN_KEY = "bc.token";
const USER_KEY = "bc.user";

/** An error answer from the API: `status`, the stable `code`, and the human `message`. */
export class ApiError extends Error {
  constructor(status, code, message, details = null) {
    super(message);
    this.status = status;
    this.code = code;
    /** The error's `details` (`unknown` variables of an `invalid_template`, `fields`…), or null. */
    this.details = details;
  }
}

export function getToken() { return localStorage.getItem(TOKEN_KEY); }

/** The signed-in user as stored at login (`{id, handle, display_name}`), or null. */
export function getUser() {
  try { return JSON.parse(localStorage.getItem(USER_KEY) || "null"); } catch { return null; }
}

export function saveSession(token, user) {
  localStorage.setItem(TOKEN_KEY, token);
  localStorage.setItem(USER_KEY, JSON.stringify(user));
}

export function clearSession() {
  localStorage.removeItem(TOKEN_KEY);
  localStorage.removeItem(USER_KEY);
}

/**
 * Call the API. Resolves with the parsed JSON body (null for 204); rejects with ApiError,
 * whose message is the server's `error.message` (or a network explanation, status 0).
 * @param {string} method
 * @param {string} path relative to /api/v1, e.g. "/conversations"
 * @param {any} [body] sent as JSON when given
 */
export async function request(method, path, body) {
  const headers = { Accept: "application/json" };
  const token = getToken();
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(`/api/v1${path}`, {
      method, headers, body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, "network_error", "Cannot reach the server. Check your connection.");
  }
  if (response.status === 401 && token && token === getToken()) unauthorized();
  if (response.status === 204) return null;
  let data = null;
  try { data = await response.json(); } catch { /* an empty or non-JSON body */ }
  if (!response.ok) {
    const err = data && data.error;
    throw new ApiError(response.status, err?.code || "http_error",
      err?.message || `The server answered ${response.status}.`, err?.details || null);
  }
  return data;
}

let unauthorized = () => {};

/** Call `fn` when the server refuses the stored token (the device was logged out elsewhere). */
export function onUnauthorized(fn) { unauthorized = fn; }

/** "Chrome on Linux" and the like, for the Devices list (the user agent says no more). */
function deviceName() {
  const ua = navigator.userAgent;
  const browser = /Edg\//.test(ua) ? "Edge" : /Firefox\//.test(ua) ? "Firefox"
    : /Chrom(e|ium)\//.test(ua) ? "Chrome" : /Safari\//.test(ua) ? "Safari" : "Browser";
  const os = /Android/.test(ua) ? "Android" : /iPhone|iPad/.test(ua) ? "iOS" : /Mac OS X/.test(ua) ? "macOS"
    : /Windows/.test(ua) ? "Windows" : /Linux/.test(ua) ? "Linux" : "";
  return `${browser}${os ? ` on ${os}` : ""} (web)`;
}

const enc = encodeURIComponent;

export const api = {
  register: (handle, password, displayName) => request("POST", "/accounts", {
    handle, password, ...(displayName ? { display_name: displayName } : {}), device_name: deviceName(),
  }),
  login: (handle, password) => request("POST", "/sessions", { handle, password, device_name: deviceName() }),
  logout: () => request("DELETE", "/sessions/current"),
  me: () => request("GET", "/me"),
  syncToken: () => request("GET", "/sync"),
  inbox: (folder) => request("GET", `/conversations?folder=${enc(folder)}&limit=50`),
  conversation: (id) => request("GET", `/conversations/${enc(id)}`),
  openDirect: (handle) => request("POST", "/conversations", { kind: "direct", members: [handle] }),
  canMessage: (handle) => request("GET", `/users/${enc(handle)}/can-message`),
  searchUsers: (q) => request("GET", `/users?q=${enc(q)}&limit=8`),
  history: (id, before) => request("GET",
    `/conversations/${enc(id)}/messages?limit=50${before ? `&before=${enc(before)}` : ""}`),
  send: (id, text, txnId, media, replyTo, location) => request("POST", `/conversations/${enc(id)}/messages`,
    { txn_id: txnId, text, ...(media && media.length ? { media } : {}), ...(replyTo ? { reply_to: replyTo } : {}),
      ...(location ? { location } : {}) }),
  removePreview: (id, messageId) =>
    request("DELETE", `/conversations/${enc(id)}/messages/${enc(messageId)}/preview`),
  editMessage: (id, messageId, text) =>
    request("PATCH", `/conversations/${enc(id)}/messages/${enc(messageId)}`, { text }),
  deleteForMe: (id, messageId) => request("DELETE", `/conversations/${enc(id)}/messages/${enc(messageId)}`),
  forward: (id, messageId, conversationIds) =>
    request("POST", `/conversations/${enc(id)}/messages/${enc(messageId)}/forward`, { conversation_ids: conversationIds }),
  patchMembership: (id, changes) => request("PATCH", `/conversations/${enc(id)}/membership`, changes),
  createGroup: (members, title) => request("POST", "/conversations",
    { kind: "group", members, ...(title ? { title } : {}) }),
  addMembers: (id, members) => request("POST", `/conversations/${enc(id)}/members`, { members }),
  removeMember: (id, handle) => request("DELETE", `/conversations/${enc(id)}/members/${enc(handle)}`),
  mediaLinks: (mediaId) => request("GET", `/media/${enc(mediaId)}/links`),
  settings: () => request("GET", "/me/settings"),
  patchSettings: (changes) => request("PATCH", "/me/settings", changes),
  patchMe: (changes) => request("PATCH", "/me", changes),
  hiddenWords: () => request("GET", "/me/hidden-words"),
  putHiddenWords: (words) => request("PUT", "/me/hidden-words", { words }),
  blocks: () => request("GET", "/me/blocks"),
  unblock: (handle) => request("DELETE", `/users/${enc(handle)}/block`),
  presence: (handles) => request("GET", `/presence?users=${handles.map(enc).join(",")}`),
  markRead: (id, upTo) => request("POST", `/conversations/${enc(id)}/read`, { up_to: upTo }),
  accept: (id) => request("POST", `/conversations/${enc(id)}/accept`),
  decline: (id, block, report) => request("POST", `/conversations/${enc(id)}/decline`,
    { ...(block ? { block: true } : {}), ...(report ? { report } : {}) }),
  rename: (id, title) => request("PATCH", `/conversations/${enc(id)}`, { title }),
  block: (handle) => request("PUT", `/users/${enc(handle)}/block`),
  report: (body) => request("POST", "/reports", body),
  sessions: () => request("GET", "/sessions"),
  revokeSession: (id) => request("DELETE", `/sessions/${enc(id)}`),
  unsend: (id, messageId) => request("POST", `/conversations/${enc(id)}/messages/${enc(messageId)}/unsend`),
  react: (id, messageId, emoji) =>
    request("PUT", `/conversations/${enc(id)}/messages/${enc(messageId)}/reactions`, { emoji }),
  unreact: (id, messageId, emoji) =>
    request("DELETE", `/conversations/${enc(id)}/messages/${enc(messageId)}/reactions/${enc(emoji)}`),
  // The business inbox (views/business*.js): `b` is the business's handle.
  myBusinesses: () => request("GET", "/me/businesses"),
  becomeBusiness: (timezone) => request("POST", "/me/business", { timezone }),
  businessMembers: (b) => request("GET", `/businesses/${enc(b)}/members`),
  putBusinessMember: (b, member, role) => request("PUT", `/businesses/${enc(b)}/members/${enc(member)}`, { role }),
  removeBusinessMember: (b, member) => request("DELETE", `/businesses/${enc(b)}/members/${enc(member)}`),
  /** @param {Object<string, string>} query status, assignee, label, priority, unread, cursor */
  businessInbox: (b, query) => request("GET",
    `/businesses/${enc(b)}/conversations?${new URLSearchParams({ limit: "50", ...query })}`),
  businessConversation: (b, id) => request("GET", `/businesses/${enc(b)}/conversations/${enc(id)}`),
  triage: (b, id, changes) => request("PATCH", `/businesses/${enc(b)}/conversations/${enc(id)}`, changes),
  businessHistory: (b, id, before) => request("GET",
    `/businesses/${enc(b)}/conversations/${enc(id)}/messages?limit=50${before ? `&before=${enc(before)}` : ""}`),
  businessReply: (b, id, text, txnId) =>
    request("POST", `/businesses/${enc(b)}/conversations/${enc(id)}/messages`, { txn_id: txnId, text }),
  addNote: (b, id, text) => request("POST", `/businesses/${enc(b)}/conversations/${enc(id)}/notes`, { text }),
  setLabel: (b, id, labelId, on) =>
    request(on ? "PUT" : "DELETE", `/businesses/${enc(b)}/conversations/${enc(id)}/labels/${enc(labelId)}`),
  businessLabels: (b) => request("GET", `/businesses/${enc(b)}/labels`),
  createLabel: (b, name, color) => request("POST", `/businesses/${enc(b)}/labels`, { name, color }),
  businessAudit: (b, cursor) =>
    request("GET", `/businesses/${enc(b)}/audit?limit=50${cursor ? `&cursor=${enc(cursor)}` : ""}`),
  savedReplies: (b) => request("GET", `/businesses/${enc(b)}/saved-replies`),
  createSavedReply: (b, reply) => request("POST", `/businesses/${enc(b)}/saved-replies`, reply),
  updateSavedReply: (b, id, changes) => request("PATCH", `/businesses/${enc(b)}/saved-replies/${enc(id)}`, changes),
  deleteSavedReply: (b, id) => request("DELETE", `/businesses/${enc(b)}/saved-replies/${enc(id)}`),
  renderSavedReply: (b, id, conversationId) =>
    request("POST", `/businesses/${enc(b)}/saved-replies/${enc(id)}/render`, { conversation_id: conversationId }),
  businessSettings: (b) => request("GET", `/businesses/${enc(b)}/settings`),
  patchBusinessSettings: (b, changes) => request("PATCH", `/businesses/${enc(b)}/settings`, changes),
  contact: (b, customer) => request("GET", `/businesses/${enc(b)}/contacts/${enc(customer)}`),
  patchContact: (b, customer, changes) => request("PATCH", `/businesses/${enc(b)}/contacts/${enc(customer)}`, changes),
  businessMediaLinks: (b, mediaId) => request("GET", `/businesses/${enc(b)}/media/${enc(mediaId)}/links`),
  /** @param {Object<string, string>} query from, to (days), business_hours */
  businessReport: (b, query) => request("GET", `/businesses/${enc(b)}/reports?${new URLSearchParams(query)}`),
  businessReportSeries: (b, query) =>
    request("GET", `/businesses/${enc(b)}/reports/series?${new URLSearchParams({ interval: "day", ...query })}`),
  businessReportVolume: (b, query) => request("GET", `/businesses/${enc(b)}/reports/volume?${new URLSearchParams(query)}`),
};

/**
 * Download a file the API serves only with the bearer token (a CSV export): fetched, then
 * saved through a temporary object URL as `filename`. Rejects with ApiError like `request`.
 * @param {string} path relative to /api/v1
 * @param {string} filename
 */
export async function downloadFile(path, filename) {
  const headers = {};
  const token = getToken();
  if (token) headers.Authorization = `Bearer ${token}`;
  let response;
  try {
    response = await fetch(`/api/v1${path}`, { headers });
  } catch {
    throw new ApiError(0, "network_error", "Cannot reach the server. Check your connection.");
  }
  if (!response.ok) {
    let err = null;
    try { err = (await response.json()).error; } catch { /* not JSON */ }
    throw new ApiError(response.status, err?.code || "http_error", err?.message || `The server answered ${response.status}.`,
      err?.details || null);
  }
  const url = URL.createObjectURL(await response.blob());
  const link = document.createElement("a");
  link.href = url;
  link.download = filename;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/**
 * Upload one file to `POST /media` with XMLHttpRequest (fetch has no upload progress).
 * @param {File} file
 * @param {{voice?: boolean, viewOnce?: boolean, waveform?: number[]}} [opts]
 * @param {(fraction: number) => void} [onProgress] 0..1
 * @returns {{promise: Promise<any>, abort: () => void}} the promise resolves with the media
 *   object, or rejects with ApiError (status 0, code "aborted", once aborted)
 */
export function upload(file, opts = {}, onProgress = () => {}) {
  const xhr = new XMLHttpRequest();
  const promise = new Promise((resolve, reject) => {
    const form = new FormData();
    form.append("file", file, file.name);
    if (opts.voice) form.append("voice", "true");
    if (opts.viewOnce) form.append("view_once", "true");
    if (opts.waveform) form.append("waveform", JSON.stringify(opts.waveform));
    xhr.open("POST", "/api/v1/media");
    xhr.responseType = "text";
    xhr.setRequestHeader("Accept", "application/json");
    const token = getToken();
    if (token) xhr.setRequestHeader("Authorization", `Bearer ${token}`);
    xhr.upload.addEventListener("progress", (e) => { if (e.lengthComputable) onProgress(e.loaded / e.total); });
    xhr.addEventListener("load", () => {
      let data = null;
      try { data = JSON.parse(xhr.responseText); } catch { /* not JSON */ }
      if (xhr.status >= 200 && xhr.status < 300 && data) { onProgress(1); resolve(data); return; }
      const err = data && data.error;
      reject(new ApiError(xhr.status, err?.code || "http_error",
        err?.message || `The server answered ${xhr.status}.`));
    });
    xhr.addEventListener("error", () => reject(new ApiError(0, "network_error",
      "Cannot reach the server. Check your connection.")));
    xhr.addEventListener("abort", () => reject(new ApiError(0, "aborted", "Upload cancelled.")));
    xhr.send(form);
  });
  return { promise, abort: () => xhr.abort() };
}

/** A random UUID; `crypto.randomUUID` only exists in secure contexts (https, localhost). */
export function uuid() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const hex = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
