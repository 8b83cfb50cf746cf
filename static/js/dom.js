// Small DOM helpers. Text from users is only ever set as text (text nodes / textContent),
// never parsed as HTML: there is no innerHTML anywhere in these pages.

const SVG_NS = "http://www.w3.org/2000/svg";

/**
 * Build an element: h("li", {class: "x", dataset: {n: 3}, on: {click: fn}}, "text", child).
 * Strings and numbers become text nodes; null/false children are skipped; arrays are flattened.
 * `style` takes an object of properties (set through the CSSOM, which the CSP allows).
 */
export function h(tag, attrs = {}, ...children) {
  const svg = tag.startsWith("svg:");
  const el = svg ? document.createElementNS(SVG_NS, tag.slice(4)) : document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") el.setAttribute("class", Array.isArray(value) ? value.filter(Boolean).join(" ") : value);
    else if (key === "dataset") Object.entries(value).forEach(([k, v]) => { el.dataset[k] = String(v); });
    else if (key === "style") Object.entries(value).forEach(([k, v]) => el.style.setProperty(k, String(v)));
    else if (key === "on") Object.entries(value).forEach(([k, fn]) => el.addEventListener(k, fn));
    else if (key === "text") el.textContent = String(value);
    else if (value === true) el.setAttribute(key, "");
    else el.setAttribute(key, String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else if (child instanceof Node) el.appendChild(child);
    else el.appendChild(document.createTextNode(String(child)));
  }
}

export const $ = (selector, root = document) => root.querySelector(selector);

/** Set an element's text (textContent), only when it changed. */
export function setText(el, text) {
  const value = text === null || text === undefined ? "" : String(text);
  if (el && el.textContent !== value) el.textContent = value;
}

/**
 * Make `target`'s children look like `children` while keeping the nodes that are already there
 * (same tag, same data-key): updates happen in place, CSS transitions run, nothing flickers,
 * and focus is not lost. Event listeners of kept nodes are kept, so pass listeners only on
 * elements whose behaviour does not change between renders, or key them.
 */
export function morph(target, children) {
  const fresh = children.flat(Infinity).filter((c) => c !== null && c !== undefined && c !== false)
    .map((c) => (c instanceof Node ? c : document.createTextNode(String(c))));
  const old = Array.from(target.childNodes);
  for (let i = 0; i < fresh.length; i++) {
    const want = fresh[i];
    const have = old[i];
    if (have && sameKind(have, want)) {
      patch(have, want);
    } else if (have) {
      target.replaceChild(want, have);
      old[i] = want;
    } else {
      target.appendChild(want);
    }
  }
  for (let i = old.length - 1; i >= fresh.length; i--) old[i].remove();
}

function sameKind(a, b) {
  if (a.nodeType !== b.nodeType) return false;
  if (a.nodeType === Node.TEXT_NODE) return true;
  if (a.nodeType !== Node.ELEMENT_NODE) return false;
  return a.namespaceURI === b.namespaceURI && a.tagName === b.tagName
    && (a.getAttribute("data-key") || "") === (b.getAttribute("data-key") || "")
    && !a.hasAttribute("data-replace") && !b.hasAttribute("data-replace");
}

function patch(have, want) {
  if (have.nodeType === Node.TEXT_NODE) {
    if (have.nodeValue !== want.nodeValue) have.nodeValue = want.nodeValue;
    return;
  }
  for (const { name } of Array.from(have.attributes)) {
    if (name !== "style" && !want.hasAttribute(name)) have.removeAttribute(name);
  }
  for (const { name, value } of Array.from(want.attributes)) {
    if (name === "style") continue;
    if (have.getAttribute(name) !== value) have.setAttribute(name, value);
  }
  if (have.style && want.style && have.style.cssText !== want.style.cssText) {
    have.style.cssText = want.style.cssText;
  }
  if (have.hasAttribute("data-keep")) return;
  morph(have, Array.from(want.childNodes));
}

/** Copy text to the clipboard if the browser lets us; resolves to true on success. */
export async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    return false;
  }
}
