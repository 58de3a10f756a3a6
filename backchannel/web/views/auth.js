/** The sign-up / log-in form (one form, a toggle between the two modes). */

import { api, saveSession } from "../api.js";
import { byId } from "../dom.js";

/**
 * Wire the form. The page starts in sign-up mode.
 * @param {(user: any) => void} onSignedIn called after the token is saved
 */
export function initAuth(onSignedIn) {
  const form = byId("auth");
  const submit = byId("auth-submit");
  const toggle = byId("auth-toggle");
  const error = byId("auth-error");
  const password = byId("password");
  let signUp = true;

  function render() {
    byId("auth-heading").textContent = signUp ? "Create your account" : "Welcome back";
    byId("display-name-field").hidden = !signUp;
    submit.textContent = signUp ? "Sign up" : "Log in";
    byId("auth-switch-text").textContent = signUp ? "Have an account?" : "New here?";
    toggle.textContent = signUp ? "Log in" : "Sign up";
    password.autocomplete = signUp ? "new-password" : "current-password";
    error.textContent = "";
  }

  toggle.addEventListener("click", () => { signUp = !signUp; render(); byId("handle").focus(); });

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const handle = byId("handle").value.trim();
    const pass = password.value;
    if (!handle || !pass) {
      error.textContent = "Enter your handle and password.";
      return;
    }
    submit.disabled = true;
    error.textContent = "";
    try {
      const reply = signUp
        ? await api.register(handle, pass, byId("display-name").value.trim())
        : await api.login(handle, pass);
      saveSession(reply.token, reply.user);
      password.value = "";
      onSignedIn(reply.user);
    } catch (err) {
      error.textContent = err.message;
    } finally {
      submit.disabled = false;
    }
  });
  render();
}

/** Show the auth screen (and hide the app). */
export function showAuth() {
  byId("app").hidden = true;
  byId("auth-screen").hidden = false;
  byId("handle").focus();
}
