// A list reordered three ways: drag the handle (touch or mouse, SortableJS), the move up / move
// down buttons on each item, or the keyboard on those buttons. It owns only its own DOM and
// reports each move through `onChange(order)`; `announce(text)` tells screen readers;
// `onDrag(dragging)`, when given, hears a drag start (true) and end (false, after its onChange).
import { h, setText } from "../dom.js";
import "../../vendor/sortablejs/Sortable.min.js";

const Sortable = window.Sortable;

/** Is `order` a list of `size` distinct statements, all of them in `allowed`? */
export function validOrder(order, allowed, size) {
  if (!Array.isArray(order) || order.length !== size) return false;
  const set = new Set(order);
  return set.size === order.length && order.every((n) => allowed.has(n));
}

/** The statement's number as a muted tag after its text ("#8"). */
export function statementRef(n) {
  return h("span", { class: "ref", title: `Statement ${n}` }, `#${n}`);
}

/**
 * Build the list for `order`; `textOf(n)` gives a statement's text. `onDrag(dragging)` (optional)
 * is called with true when a drag starts and false when it ends, after the drop's `onChange`:
 * while it is true, SortableJS owns the list's order and nothing else should reorder it.
 */
export function orderList(order, { id, label, textOf, announce, onChange, onDrag = () => {} }) {
  const list = h("ol", { class: "order-list", id, "aria-label": label });
  const item = (n) => h("li", { class: "order-item", dataset: { statement: n } },
    h("span", { class: "handle", title: "Drag to move", "aria-hidden": "true" },
      h("span", { class: "pos" }), h("span", { class: "grip" }, "⋮⋮")),
    // One number per row: the position (in the handle). The statement's number, for finding it
    // on the projector, follows the text, muted, so that it does not read as a second rank.
    h("span", { class: "body" }, h("span", { class: "text" }, textOf(n)), statementRef(n)),
    h("span", { class: "moves" },
      h("button", { type: "button", class: "move up", dataset: { dir: "-1" }, "aria-label": `Move statement ${n} up` }, "▲"),
      h("button", { type: "button", class: "move down", dataset: { dir: "1" }, "aria-label": `Move statement ${n} down` }, "▼")));
  list.append(...order.map(item));

  const read = () => Array.from(list.children).map((li) => Number(li.dataset.statement));
  const renumber = () => {
    const items = Array.from(list.children);
    items.forEach((li, i) => {
      setText(li.querySelector(".pos"), i + 1);
      li.querySelector(".move.up").disabled = i === 0;
      li.querySelector(".move.down").disabled = i === items.length - 1;
    });
  };
  list.addEventListener("click", (e) => {
    const button = e.target.closest("button.move");
    if (!button || button.disabled) return;
    const li = button.closest("li");
    const dir = Number(button.dataset.dir);
    const sibling = dir < 0 ? li.previousElementSibling : li.nextElementSibling;
    if (!sibling) return;
    if (dir < 0) list.insertBefore(li, sibling);
    else list.insertBefore(sibling, li);
    renumber();
    const position = Array.from(list.children).indexOf(li) + 1;
    // Keep the keyboard where it was: on the same button of the moved item, or its twin at an end.
    const again = li.querySelector(dir < 0 ? ".move.up" : ".move.down");
    (again.disabled ? li.querySelector(dir < 0 ? ".move.down" : ".move.up") : again).focus();
    li.classList.remove("moved");
    void li.offsetWidth; // restart the highlight animation
    li.classList.add("moved");
    announce(`Statement ${li.dataset.statement} moved to position ${position} of ${list.children.length}.`);
    onChange(read());
  });
  Sortable.create(list, {
    handle: ".handle",
    animation: 150,
    forceFallback: true, // the same pointer-driven drag for touch and mouse
    fallbackOnBody: true,
    ghostClass: "drag-ghost",
    chosenClass: "drag-chosen",
    // Auto-scroll while the finger is within 150 px of the screen's top or bottom edge: the
    // sticky bar (74 px) covers the top and the save bar the bottom, so SortableJS's default
    // 30 px would start only under them. One long drag reaches the top of a 9-item list.
    scroll: true,
    scrollSensitivity: 150,
    scrollSpeed: 14,
    bubbleScroll: true,
    onStart: () => onDrag(true),
    onEnd: (evt) => {
      renumber();
      if (evt.oldIndex !== evt.newIndex) {
        announce(`Statement ${evt.item.dataset.statement} moved to position ${evt.newIndex + 1}.`);
        onChange(read());
      }
      onDrag(false);
    },
  });
  renumber();
  return list;
}

/** Let `list`'s items be dragged (`on`) or not (a locked answer); the ▲▼ buttons are the caller's. */
export function setDraggable(list, on) {
  const sortable = Sortable.get(list);
  if (sortable) sortable.option("disabled", !on);
}

/** Put `list`'s items in `order` (the server's), keeping each item's element and its focus. */
export function setOrder(list, order) {
  const items = new Map(Array.from(list.children).map((li) => [Number(li.dataset.statement), li]));
  const current = Array.from(list.children).map((li) => Number(li.dataset.statement));
  if (JSON.stringify(current) === JSON.stringify(order)) return;
  const focused = document.activeElement;
  for (const n of order) if (items.has(n)) list.append(items.get(n));
  Array.from(list.children).forEach((li, i, all) => {
    li.querySelector(".pos").textContent = String(i + 1);
    li.querySelector(".move.up").disabled = i === 0;
    li.querySelector(".move.down").disabled = i === all.length - 1;
  });
  if (focused && list.contains(focused)) focused.focus();
}
