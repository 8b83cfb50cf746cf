// The console's projector chooser: what the projector shows while results are revealed (the
// step's own view, the room matrix, each table's top picks, one table, or one statement), and a
// line saying what it shows now. Buttons carry data-action="project"; console.js sends `show_on_projector`.
import { h } from "./dom.js";
import { stepName } from "./words.js";

const STEP_VIEWS = {
  discard: "discard votes by table",
  rank: "the room matrix",
  similarities: "similarities and differences across the tables",
  top: "each table's top picks",
  results: "the room matrix",
};

/** The words for what the projector shows now, from the console's snapshot. */
export function projectorNow(snap) {
  const { session, deck } = snap;
  if (session.step === "lobby" && !session.closed) return "the join code and QR code";
  if (!session.revealed) return `progress of ${stepName(session.step, deck)} (results hidden)`;
  const choice = snap.projector_view || { view: "step" };
  const title = (n) => {
    const s = deck.statements.find((x) => x.number === n);
    return s ? `statement ${n}, “${s.short || s.text}”` : `statement ${n}`;
  };
  if (choice.view === "table") {
    const g = snap.groups.find((x) => x.id === choice.table);
    return `${g ? g.name : "one table"} in detail`;
  }
  if (choice.view === "statement") return `${title(choice.statement)} across the tables`;
  if (choice.view === "matrix") return "the room matrix";
  if (choice.view === "top") return `each table's ${stepName("top", deck).toLowerCase()}`;
  if (choice.view === "changes") return "what changed between the rounds";
  return STEP_VIEWS[session.step] || "the results";
}

// Views that show matrix_tables tables a page: the page buttons turn the page of the view shown.
const PAGED = ["step", "matrix", "top", "changes"];

/** The chooser's content: a status line and the buttons (each pressed when it is shown). */
export function chooser(snap) {
  const choice = snap.projector_view || { view: "step" };
  const hidden = !snap.session.revealed || snap.session.step === "lobby";
  const pressed = (view, key, value) => String(choice.view === view && (key ? choice[key] === value : true));
  const button = (label, data, isPressed) => h("button", {
    type: "button", class: "button secondary small", disabled: hidden,
    dataset: { action: "project", ...data }, "aria-pressed": isPressed,
  }, label);
  const size = snap.matrix_tables || 8;
  const pages = Math.ceil(snap.groups.length / size);
  return [
    h("p", { class: "projector-now", role: "status" }, "The projector shows ", h("strong", {}, projectorNow(snap)), "."),
    hidden ? h("p", { class: "muted" }, "Turn on “Show results on the projector” to choose a view.") : null,
    h("div", { class: "button-row", role: "group", "aria-label": "Views" },
      button(`${stepName(snap.session.step, snap.deck)} view`, { view: "step" }, pressed("step")),
      button("Room matrix", { view: "matrix" }, pressed("matrix")),
      button(`${stepName("top", snap.deck)} by table`, { view: "top" }, pressed("top")),
      button("What changed", { view: "changes" }, pressed("changes"))),
    pages > 1 ? h("div", { class: "button-row", role: "group", "aria-label": "Tables shown" },
      Array.from({ length: pages }, (_, p) => {
        const first = p * size + 1;
        const last = Math.min(snap.groups.length, first + size - 1);
        const view = PAGED.includes(choice.view) ? choice.view : "step";
        return button(`Tables ${first === last ? first : `${first}–${last}`}`, { view, page: p },
          String(PAGED.includes(choice.view) && (choice.page || 0) === p));
      })) : null,
    h("div", { class: "button-row", role: "group", "aria-label": "One table" },
      snap.groups.map((g) => button(g.name, { view: "table", table: g.id }, pressed("table", "table", g.id)))),
    h("div", { class: "button-row", role: "group", "aria-label": "One statement" },
      snap.deck.statements.map((s) => {
        const b = button(String(s.number), { view: "statement", statement: s.number }, pressed("statement", "statement", s.number));
        b.title = s.short || s.text;
        b.setAttribute("aria-label", `Statement ${s.number}: ${s.short || s.text}`);
        return b;
      })),
  ];
}

/** The `show_on_projector` payload of a chooser button. */
export function choiceOf(button) {
  const { view, table, statement, page } = button.dataset;
  const payload = { view };
  if (table !== undefined) payload.table = Number(table);
  if (statement !== undefined) payload.statement = Number(statement);
  if (page !== undefined) payload.page = Number(page);
  return payload;
}
