/**
 * Sharing a location: `#location-share` asks the browser where we are, `#location-bar`
 * shows the place and waits for "Send location" (one click never sends where you are).
 */

import { byId } from "../dom.js";
import { state } from "../state.js";

/** @type {(conversationId: string, fields: {location: {latitude: number, longitude: number}}) => Promise<void>} */
let sendFields = async () => {};
/** The position found, and the conversation it is for (null: none pending). */
let pending = null;
let asking = 0;

const GEO_ERRORS = {
  1: "Location access was denied. Allow it in your browser's site settings to share where you are.",
  2: "Your location is not available right now.",
  3: "Finding your location took too long. Try again.",
};

/** @param {typeof sendFields} send sends the message (rejects with an ApiError) */
export function initLocation(send) {
  sendFields = send;
  byId("location-share").addEventListener("click", locate);
  byId("location-cancel").addEventListener("click", () => { cancelLocation(); byId("location-share").focus(); });
  byId("location-send").addEventListener("click", sendLocation);
  byId("location-bar").addEventListener("keydown", (e) => {
    if (e.key === "Escape") { e.stopPropagation(); cancelLocation(); byId("location-share").focus(); }
  });
}

function locate() {
  const error = byId("composer-error");
  const conversationId = state.openId;
  if (!conversationId) return;
  if (!navigator.geolocation) { error.textContent = "This browser cannot share a location."; return; }
  error.textContent = "";
  const ask = ++asking;
  pending = null;
  show("Finding your location…", false);
  navigator.geolocation.getCurrentPosition((pos) => {
    if (ask !== asking || state.openId !== conversationId) return;
    const { latitude, longitude } = pos.coords;
    pending = { conversationId, location: { latitude, longitude } };
    show(`Send your location (${latitude.toFixed(5)}, ${longitude.toFixed(5)})?`, true);
    byId("location-send").focus();
  }, (err) => {
    if (ask !== asking) return;
    cancelLocation();
    error.textContent = GEO_ERRORS[err.code] || `Could not find your location: ${err.message}`;
    byId("location-share").focus();
  }, { enableHighAccuracy: false, timeout: 15000, maximumAge: 60000 });
}

function show(text, ready) {
  byId("location-text").textContent = text;
  byId("location-send").disabled = !ready;
  byId("location-bar").hidden = false;
}

async function sendLocation() {
  const wanted = pending;
  if (!wanted) return;
  byId("location-send").disabled = true;
  try {
    await sendFields(wanted.conversationId, { location: wanted.location });
    if (pending === wanted) cancelLocation();
    byId("composer-error").textContent = "";
    byId("composer").focus();
  } catch (err) {
    byId("location-send").disabled = false;
    byId("composer-error").textContent = err.message;
  }
}

/** Forget a pending location and hide the bar (also when the conversation changes). */
export function cancelLocation() {
  asking++;
  pending = null;
  byId("location-bar").hidden = true;
}
