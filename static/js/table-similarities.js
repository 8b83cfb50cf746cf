// The phone at the similarities step: its table's agreed and split statements and where the
// table stands apart from the room (figures from the server's consensus core, `state.similarities`).
import { h } from "./dom.js";

function item(n, title, why) {
  return h("li", { dataset: { statement: n } },
    h("span", { class: "num", "aria-hidden": "true" }, n),
    h("span", { class: "text" }, title(n), why ? h("span", { class: "why" }, why) : null));
}

function section(heading, numbers, title, empty, why) {
  return h("section", { class: "card" }, h("h2", {}, heading),
    numbers.length ? h("ul", { class: "similar-list" }, numbers.map((n) => item(n, title, why && why(n))))
      : h("p", { class: "muted" }, empty));
}

/**
 * Cards for the similarities step, or null when the server sent no similarities.
 * `title(n)` gives a statement's text.
 */
export function tableSimilarities(similar, title) {
  if (!similar) return null;
  const few = similar.rankings < 2;
  const apart = similar.apart || [];
  const room = new Map();
  for (const n of similar.agree_top || []) room.set(n, "every table puts it in its top third");
  for (const n of similar.agree_bottom || []) room.set(n, "every table puts it low or discards it");
  return [
    h("section", { class: "card wait" }, h("h1", {}, "Discuss with your table"),
      h("p", { class: "lead" }, "Where do you agree, and where do you differ? Start with the statements your table is split on.")),
    section("Your table is split on", similar.contested || [], title,
      few ? "This needs two rankings at your table." : "Nothing strongly split: well done."),
    section("Your table agrees on", similar.agreed || [], title,
      few ? "This needs two rankings at your table." : "No statement clearly agreed yet."),
    section("Where your table stands apart from the room", apart.map((d) => d.statement), title,
      similar.tables < 2 ? "This needs two tables with rankings."
        : similar.rankings < similar.distinctive_min ? `Too few rankings at your table to compare with the room (it takes ${similar.distinctive_min}).`
          : "Your table ranks like the rest of the room.",
      (n) => {
        const d = apart.find((x) => x.statement === n);
        return `your table ${d.higher ? "ranks it higher" : "ranks it lower"}: mean place ${d.table_mean.toFixed(1)} here, ${d.rest_mean.toFixed(1)} in the rest of the room`;
      }),
    room.size ? section("The whole room agrees", [...room.keys()], title, "", (n) => room.get(n)) : null,
  ];
}
