/**
 * Voice notes recorded here: `#voice-record` asks for the microphone and records with
 * MediaRecorder (Opus in WebM or Ogg, or MP4 on Safari) while `#voice-bar` shows the time;
 * "Send" stops, draws the waveform from the decoded audio (the peak of each of
 * WAVEFORM_LEVELS slices, the loudest 255), uploads it as a voice note and sends it.
 */

import { upload } from "../api.js";
import { byId } from "../dom.js";
import { state } from "../state.js";

const TYPES = ["audio/webm;codecs=opus", "audio/ogg;codecs=opus", "audio/mp4", "audio/webm"];
const WAVEFORM_LEVELS = 64;
const MAX_MS = 10 * 60 * 1000; // then it is sent as it is

/** @type {(conversationId: string, fields: {media: string[]}) => Promise<void>} */
let sendFields = async () => {};
/** The recording under way, or null. */
let rec = null;

/** @param {typeof sendFields} send sends the message (rejects with an ApiError) */
export function initVoice(send) {
  sendFields = send;
  byId("voice-record").addEventListener("click", start);
  byId("voice-send").addEventListener("click", () => finish(true));
  byId("voice-cancel").addEventListener("click", () => finish(false));
  byId("voice-bar").addEventListener("keydown", (e) => {
    if (e.key === "Escape" && rec && !rec.sending) { e.stopPropagation(); finish(false); }
  });
}

/** @returns {string} the first recording type this browser has, or "" (its default) */
function recordingType() {
  return TYPES.find((t) => window.MediaRecorder?.isTypeSupported?.(t)) || "";
}

/** @param {Error & {name?: string}} err from getUserMedia @returns {string} */
function micError(err) {
  switch (err.name) {
    case "NotAllowedError":
    case "SecurityError":
      return "Microphone access was denied. Allow it in your browser's site settings to record voice notes.";
    case "NotFoundError":
    case "OverconstrainedError":
      return "No microphone was found. Connect one to record voice notes.";
    case "NotReadableError":
      return "The microphone is busy or unavailable (another app may be using it).";
    default:
      return `Could not start recording: ${err.message || err.name}`;
  }
}

async function start() {
  const error = byId("composer-error");
  const conversationId = state.openId;
  if (rec || !conversationId) return;
  if (!navigator.mediaDevices?.getUserMedia || !window.MediaRecorder) {
    error.textContent = "This browser cannot record voice notes.";
    return;
  }
  error.textContent = "";
  byId("voice-record").disabled = true;
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({ audio: true });
  } catch (err) {
    error.textContent = micError(err);
    return;
  } finally {
    byId("voice-record").disabled = false;
  }
  if (state.openId !== conversationId) { stopTracks(stream); return; }
  const type = recordingType();
  let recorder;
  try {
    recorder = new MediaRecorder(stream, type ? { mimeType: type } : undefined);
  } catch (err) {
    stopTracks(stream);
    error.textContent = `Could not start recording: ${err.message}`;
    return;
  }
  const chunks = [];
  recorder.addEventListener("dataavailable", (e) => { if (e.data.size) chunks.push(e.data); });
  rec = { conversationId, stream, recorder, chunks, type, startedAt: Date.now(), timer: 0, sending: false, abort: null };
  recorder.start(250);
  rec.timer = setInterval(tick, 250);
  tick();
  byId("composer-form").hidden = true;
  byId("voice-send").disabled = false;
  byId("voice-cancel").disabled = false;
  byId("voice-bar").hidden = false;
  byId("voice-send").focus();
}

function tick() {
  if (!rec || rec.sending) return;
  const ms = Date.now() - rec.startedAt;
  const s = Math.floor(ms / 1000);
  byId("voice-time").textContent = `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
  if (ms >= MAX_MS) finish(true);
}

/** @param {MediaStream} stream */
function stopTracks(stream) { for (const track of stream.getTracks()) track.stop(); }

/** Stop the recorder; resolves once its last data is in. */
function stopRecorder(r) {
  return new Promise((resolve) => {
    if (r.recorder.state === "inactive") { resolve(); return; }
    r.recorder.addEventListener("stop", () => resolve(), { once: true });
    r.recorder.stop();
  });
}

/** Stop recording and send the note (`send`), or throw it away. */
async function finish(send) {
  const r = rec;
  if (!r || r.sending) return;
  clearInterval(r.timer);
  if (!send) { cancelVoice(); byId("voice-record").focus(); return; }
  r.sending = true;
  byId("voice-send").disabled = true;
  byId("voice-time").textContent = "Sending…";
  await stopRecorder(r);
  stopTracks(r.stream);
  const mime = (r.recorder.mimeType || r.type || "audio/webm").split(";")[0];
  const blob = new Blob(r.chunks, { type: mime });
  try {
    if (!blob.size) throw new Error("Nothing was recorded. Check your microphone.");
    const waveform = await levels(blob);
    const file = new File([blob], `voice-note.${extension(mime)}`, { type: mime });
    const job = upload(file, { voice: true, ...(waveform ? { waveform } : {}) });
    r.abort = job.abort;
    const media = await job.promise;
    if (rec !== r) return; // cancelled meanwhile
    await sendFields(r.conversationId, { media: [media.id] });
    if (rec === r) { reset(); byId("voice-record").focus(); }
  } catch (err) {
    if (rec !== r || err.code === "aborted") return;
    reset();
    byId("composer-error").textContent = `The voice note was not sent: ${err.message}`;
    byId("voice-record").focus();
  }
}

/** @param {string} mime @returns {string} */
function extension(mime) {
  return { "audio/ogg": "ogg", "audio/mp4": "m4a" }[mime] || "webm";
}

/**
 * The waveform of recorded audio: WAVEFORM_LEVELS peaks, the loudest 255 (null when this
 * browser cannot decode what it recorded; the server may still draw one).
 * @param {Blob} blob @returns {Promise<number[]|null>}
 */
async function levels(blob) {
  const Offline = window.OfflineAudioContext || window.webkitOfflineAudioContext;
  if (!Offline) return null;
  let audio;
  try {
    audio = await new Offline(1, 1, 44100).decodeAudioData(await blob.arrayBuffer());
  } catch {
    return null;
  }
  const channels = Array.from({ length: audio.numberOfChannels }, (_, i) => audio.getChannelData(i));
  const per = Math.max(1, Math.floor(audio.length / WAVEFORM_LEVELS));
  const peaks = [];
  for (let at = 0; at + per <= audio.length && peaks.length < WAVEFORM_LEVELS; at += per) {
    let peak = 0;
    for (const data of channels) {
      for (let i = at; i < at + per; i++) peak = Math.max(peak, Math.abs(data[i]));
    }
    peaks.push(peak);
  }
  const loudest = Math.max(...peaks, 0);
  if (!peaks.length) return null;
  return peaks.map((p) => (loudest > 0 ? Math.round((p / loudest) * 255) : 0));
}

function reset() {
  if (rec) { clearInterval(rec.timer); rec = null; }
  byId("voice-bar").hidden = true;
  byId("composer-form").hidden = false;
}

/** Throw the recording (or the upload) away: cancelled, or the conversation changed. */
export function cancelVoice() {
  const r = rec;
  if (!r) return;
  rec = null;
  clearInterval(r.timer);
  r.abort?.();
  if (r.recorder.state !== "inactive") r.recorder.stop();
  stopTracks(r.stream);
  reset();
}
