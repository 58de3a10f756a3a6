/**
 * Finding people: a combobox over `GET /users?q=` (handle or name prefixes, people you
 * follow first). Used by "New message" and "New group". Keyboard: ↓/↑ move, Enter picks,
 * Escape closes; results are announced through the listbox (ARIA 1.2 combobox pattern).
 */

import { api } from "../api.js";
import { h } from "../dom.js";
import { initial, nameOf } from "../render.js";

const DEBOUNCE_MS = 200;

/**
 * Attach a people search to `input`.
 * @param {HTMLInputElement} input
 * @param {{term?: (value: string) => string, onPick: (user: any) => void}} opts `term` picks
 *   the part of the value being typed (the last handle of a list, say); `onPick` gets a user.
 * @returns {{close: () => void}}
 */
export function peopleSearch(input, { term = (v) => v, onPick }) {
  const list = h("ul", { class: "people-results", id: `${input.id}-results`, hidden: true,
    attrs: { role: "listbox", "aria-label": "People" } });
  input.after(list);
  input.setAttribute("role", "combobox");
  input.setAttribute("aria-autocomplete", "list");
  input.setAttribute("aria-expanded", "false");
  input.setAttribute("aria-controls", list.id);
  /** @type {any[]} */
  let results = [];
  let active = -1;
  let timer = 0;
  let asked = "";

  function close() {
    clearTimeout(timer);
    results = [];
    active = -1;
    list.hidden = true;
    list.replaceChildren();
    input.setAttribute("aria-expanded", "false");
    input.removeAttribute("aria-activedescendant");
  }

  function render() {
    list.replaceChildren(...results.map((user, i) => {
      const name = nameOf(user);
      return h("li", { id: `${list.id}-${i}`, class: `person${i === active ? " active" : ""}`,
        attrs: { role: "option", "aria-selected": String(i === active) },
        dataset: { handle: user.handle },
        on: { mousedown: (e) => { e.preventDefault(); pick(i); } } },
      h("span", { class: "avatar small", text: initial(name), attrs: { "aria-hidden": "true" } }),
      h("span", { class: "person-main" },
        h("span", { class: "person-name", text: name }),
        h("span", { class: "person-handle", text: `@${user.handle}${user.followed_by_me ? " · Following" : ""}` })));
    }));
    list.hidden = results.length === 0;
    input.setAttribute("aria-expanded", String(!list.hidden));
    if (active >= 0) input.setAttribute("aria-activedescendant", `${list.id}-${active}`);
    else input.removeAttribute("aria-activedescendant");
  }

  function pick(i) {
    const user = results[i];
    close();
    if (user) onPick(user);
  }

  input.addEventListener("input", () => {
    clearTimeout(timer);
    const q = term(input.value).trim().replace(/^@/, "");
    if (!q) { close(); return; }
    timer = setTimeout(async () => {
      asked = q;
      try {
        const reply = await api.searchUsers(q);
        if (asked !== q || document.activeElement !== input) return;
        results = reply.items.filter((u) => u.handle);
        active = -1;
        render();
      } catch {
        if (asked === q) close(); // the typed handle still works without suggestions
      }
    }, DEBOUNCE_MS);
  });
  input.addEventListener("keydown", (e) => {
    if (list.hidden) return;
    if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      e.preventDefault();
      const step = e.key === "ArrowDown" ? 1 : -1;
      const slots = results.length + 1; // the options, and "none" (back to typing)
      active = ((active + 1 + step + slots) % slots) - 1;
      render();
    } else if (e.key === "Enter" && active >= 0) {
      e.preventDefault();
      pick(active);
    } else if (e.key === "Escape") {
      e.preventDefault();
      close();
    }
  });
  input.addEventListener("blur", () => close());
  return { close };
}
