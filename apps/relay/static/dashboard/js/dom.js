// @ts-check
// The dashboard shows names chosen by whoever uploaded. Every piece of data goes into the page as a
// text node or an attribute value, never as markup: there is no innerHTML anywhere in these files.

/**
 * @typedef {Node | string | number | null | undefined | false} Leaf
 * @typedef {Leaf | Array<Leaf | Leaf[]>} Child
 * @typedef {string | number | boolean | null | undefined} AttributeValue
 * @typedef {{
 *   class?: string,
 *   text?: string | number,
 *   dataset?: Record<string, string>,
 *   aria?: Record<string, AttributeValue>,
 *   [attribute: string]: AttributeValue | Record<string, AttributeValue>,
 * }} Props
 */

/**
 * Creates an element. `props`: `class`, `text`, `dataset` (object), `aria` (object, without the
 * `aria-` prefix), and any other attribute by name (`on…` names are refused). Children are nodes or
 * strings (added as text), and null/false are skipped.
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {Props} [props]
 * @param {...Child} children
 * @returns {HTMLElementTagNameMap[K]}
 */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') el.className = String(value);
    else if (key === 'text') el.textContent = String(value);
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else if (key === 'aria') {
      for (const [name, v] of Object.entries(/** @type {Record<string, AttributeValue>} */ (value)))
        if (v !== undefined && v !== null) el.setAttribute(`aria-${name}`, String(v));
    } else if (/^on/i.test(key)) throw new Error(`refusing event attribute ${key}`);
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  append(el, children);
  return el;
}

/**
 * @param {Element} el
 * @param {Child[]} children
 */
function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(typeof child === 'string' || typeof child === 'number' ? String(child) : child);
  }
}

/**
 * The page's element with this id (the page is ours: a missing one is a bug, not a case).
 * @template {HTMLElement} [E=HTMLElement]
 * @param {string} id
 * @returns {E}
 */
export const byId = (id) => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`#${id} is missing from the page`);
  return /** @type {E} */ (el);
};

/**
 * Sets text only when it changed, so screen readers and selections are not disturbed needlessly.
 * @param {Node} el
 * @param {string | number} text
 */
export function setText(el, text) {
  const value = String(text);
  if (el.textContent !== value) el.textContent = value;
}
