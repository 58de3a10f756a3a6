/**
 * Tiny DOM helpers. Every piece of data reaches the page through `textContent` or
 * element properties: this module never parses HTML.
 */

/**
 * Create an element.
 * @param {string} tag
 * @param {Object<string, any>} [props] `class`, `text`, `for`, `dataset`, `on` ({event: handler}),
 *   `attrs` (setAttribute pairs); anything else is assigned as a property (id, type, hidden…).
 * @param {...(Node|string|null|undefined|false)} children strings become text nodes
 * @returns {HTMLElement}
 */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null) continue;
    if (key === "class") el.className = value;
    else if (key === "text") el.textContent = value;
    else if (key === "for") el.htmlFor = value; // a label's `for` (the property is `htmlFor`)
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key === "on") for (const [ev, fn] of Object.entries(value)) el.addEventListener(ev, fn);
    else if (key === "attrs") for (const [name, v] of Object.entries(value)) el.setAttribute(name, v);
    else el[key] = value;
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    el.append(typeof child === "string" ? document.createTextNode(child) : child);
  }
  return el;
}

/** @param {string} id @returns {HTMLElement} the element, or throws (a missing id is a bug). */
export function byId(id) {
  const el = document.getElementById(id);
  if (!el) throw new Error(`#${id} is missing from index.html`);
  return el;
}

/**
 * Whether the focus has nowhere to be after `dialog` closed: on the page itself or still
 * inside the closed dialog. A dialog's "close" event comes a task after it closed, by which
 * time the person may have clicked or tabbed elsewhere (into the composer, say): a close
 * handler that gives the focus back to the dialog's opener asks this first, so that it
 * never takes the focus from where they put it.
 * @param {HTMLDialogElement} dialog
 */
export function focusAdrift(dialog) {
  const at = document.activeElement;
  return !at || at === document.body || dialog.contains(at);
}
