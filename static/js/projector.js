// The projector: join code and QR while people join, progress per group while a step is open,
// and, when the trainer reveals them, the results the server computed (facilitator.consensus).
// It never computes results itself. Re-rendered in place (morph) so updates do not flicker.
// Results are read from the back of a room: statements by their short title (or full text),
// never cut, at least 3 % of the screen height; the trainer (console) chooses what is shown
// while the room discusses it, never a timer.
import { $, h, morph, setText } from "./dom.js";
import { connect, subscription } from "./connection.js";
import { agreementWords, fmt, instructionLines, plural, stepName } from "./words.js";

const body = document.body;
const key = body.dataset.key;
const stage = $("#stage");
const main = $("#proj-body");
const INPUT = ["discard", "rank", "top"];

let snap = null;
let titles = new Map(); // statement number → short title (or the full text)
let texts = new Map(); // statement number → full text

const joinUrl = body.dataset.joinUrl || "";
const joinShown = joinUrl.replace(/^https?:\/\//, "");
setText($("#join-host"), joinShown);

// Watch on every (re)connection; a busy or slow server is asked again (connection.js).
let watch = null;
const socket = connect({ pill: $("#conn"), onConnect: () => watch() });
watch = subscription(socket, "watch", { projector: key }, {
  onReply: (reply) => show(reply.snapshot, true),
  onError: (err) => setText($("#proj-foot-text"), err.message),
});
socket.on("snapshot", (next) => show(next));

function show(next, force = false) {
  if (!next) return;
  if (snap && !force && next.version < snap.version) return;
  snap = next;
  titles = new Map();
  texts = new Map();
  for (const st of (next.deck && next.deck.statements) || []) {
    titles.set(st.number, st.short || st.text);
    texts.set(st.number, st.text);
  }
  render();
}

window.addEventListener("resize", () => { if (snap) render(); });

// -- which view --------------------------------------------------------------------------------
function viewName(s) {
  const { step, closed } = s.session;
  const people = s.groups.reduce((n, g) => n + g.joined, 0);
  if (step === "lobby" && !closed) return "lobby";
  if (s.results && s.session.revealed && step !== "lobby" && people >= 0) return "results";
  return "progress";
}

function render() {
  const view = viewName(snap);
  const { session, deck } = snap;
  stage.dataset.view = view;
  setText($("#proj-title"), session.title);
  const state = session.closed ? "ended"
    : INPUT.includes(session.step) ? (session.open ? "answer on your phone" : "closed") : "";
  const stepEl = $("#proj-step");
  morph(stepEl, [h("span", { class: "step-name" }, stepName(session.step, deck)),
    state ? h("span", { class: ["step-state", session.open && "open"] }, state) : null]);
  $("#proj-join").hidden = view === "lobby" || session.closed;
  const people = snap.groups.reduce((n, g) => n + g.joined, 0);
  setText($("#proj-foot-text"), `${session.code} · ${plural(people, "person", "people")} · ${plural(snap.groups.length, "group", "groups")}`);

  if (view === "results") {
    stage.dataset.view = `results-${resultsView().name}`;
    fitResults();
    return;
  }
  morph(main, [view === "lobby" ? lobby() : progress()]);
  fitText();
  showInstructionsIfWhole();
}

/** The lobby's instructions show only where they fit whole (never cut mid-list). */
function showInstructionsIfWhole() {
  const section = main.querySelector(".lobby-instructions");
  if (!section) return;
  section.hidden = false;
  section.hidden = section.scrollHeight > section.clientHeight + 1;
}

// -- lobby -----------------------------------------------------------------------------------
function lobby() {
  const qr = $("#qr-template").cloneNode(true);
  qr.hidden = false;
  qr.removeAttribute("id");
  qr.dataset.keep = "1";
  return h("div", { class: "lobby", dataset: { key: "lobby" } },
    h("section", { class: "lobby-join" },
      h("h2", { class: "lobby-title" }, "Join on your phone"),
      h("div", { class: "qr-wrap", dataset: { keep: "1" } }, qr),
      h("p", { class: "lobby-url" }, joinShown),
      h("p", { class: "lobby-code" }, h("span", { class: "label" }, "code"), h("span", { class: "code" }, snap.session.code))),
    h("section", { class: "lobby-groups" },
      h("h2", {}, "Tables"),
      h("ul", { class: "group-joins", style: {
        "--rows": Math.max(1, snap.groups.length),
        // names wrap onto more lines when there are few tables
        "--clamp": snap.groups.length <= 3 ? 3 : snap.groups.length <= 5 ? 2 : 1,
      } }, snap.groups.map((g) => h("li", { dataset: { key: `g-${g.id}` } },
        h("span", { class: "gname" }, g.name),
        h("span", { class: "names" }, nameList((g.names || []).slice(-12))),
        h("span", { class: "count" }, String(g.joined))))),
      lobbyInstructions()));
}

/** The deck's instructions (the handout's list), with up to 4 tables (then there is room). */
function lobbyInstructions() {
  const lines = instructionLines(snap.deck.instructions);
  if (!lines.length || snap.groups.length > 4) return null;
  return h("section", { class: "lobby-instructions", dataset: { key: "instructions" } },
    h("h2", {}, "What you will do"),
    h("ul", {}, lines.map((line) => h("li", {}, line))));
}

/** Names as text, each isolated (<bdi>) so a right-to-left name cannot reorder its neighbours. */
function nameList(names) {
  return names.map((name, i) => [i ? " · " : null, h("bdi", { class: "nm" }, name)]);
}

// -- progress ----------------------------------------------------------------------------------
function progress() {
  const { session, deck } = snap;
  const step = session.step;
  const input = INPUT.includes(step);
  if (input && session.mode === "table" && !session.closed) return tableProgress();
  const joined = snap.groups.reduce((n, g) => n + g.joined, 0);
  const answered = input ? snap.groups.reduce((n, g) => n + (g.answered[step] || 0), 0) : 0;
  let headline;
  if (session.closed) headline = "The session has ended. Thank you!";
  else if (input) headline = `${answered} of ${joined} have answered`;
  else if (step === "similarities") headline = "Discuss with your table: where do you agree, where do you differ?";
  else headline = "Results will appear here";
  return h("div", { class: "progress", dataset: { key: "progress" } },
    h("p", { class: "headline" }, headline),
    input && !session.open && !session.closed ? closedLine() : null,
    groupTiles((g) => {
      const done = input ? g.answered[step] || 0 : null;
      const pct = g.joined && done !== null ? (100 * done) / g.joined : 0;
      return h("li", { class: ["gp", done !== null && g.joined && done === g.joined && "all"], dataset: { key: `g-${g.id}` } },
        h("span", { class: "gname" }, g.name),
        done === null
          ? h("span", { class: "big" }, String(g.joined), h("span", { class: "of" }, g.joined === 1 ? " person" : " people"))
          : h("span", { class: "big" }, String(done), h("span", { class: "of" }, ` / ${g.joined}`)),
        done === null ? null : h("span", { class: "pbar" }, h("span", { style: { "--fill": `${pct}%` } })),
        discardNote(g));
    }));
}

/** A step played as a table (issue 13): nobody answers alone, so each table's shared board is
 * shown instead: locked (its answer is agreed), or how many of its members agree so far. */
function tableProgress() {
  const { session } = snap;
  const boards = snap.groups.filter((g) => g.board);
  const locked = boards.filter((g) => g.board.locked).length;
  return h("div", { class: "progress table-mode", dataset: { key: "progress-table" } },
    h("p", { class: "headline" }, `${locked} of ${plural(boards.length, "table", "tables")} agreed`),
    session.open
      ? h("p", { class: "subline" }, "Each table builds one answer together on its phones, then taps “We agree”.")
      : closedLine(),
    groupTiles((g) => {
      const b = g.board;
      const agreed = b ? b.agreed.length : 0;
      const pct = !b ? 0 : b.locked ? 100 : g.joined ? (100 * agreed) / g.joined : 0;
      return h("li", { class: ["gp", "board", b && b.locked && "all"], dataset: { key: `g-${g.id}`, locked: b && b.locked ? "1" : "0" } },
        h("span", { class: "gname" }, g.name),
        !b ? h("span", { class: "state" }, "Waiting for its board")
          : b.locked
            ? h("span", { class: "big" }, h("span", { "aria-hidden": "true" }, "✓"), h("span", { class: "of" }, " agreed"))
            : h("span", { class: "big" }, String(agreed), h("span", { class: "of" }, ` of ${g.joined} agree`)),
        b ? h("span", { class: "pbar" }, h("span", { style: { "--fill": `${pct}%` } })) : null,
        b ? h("span", { class: "state" }, b.locked ? "Answer locked" : "Building together") : null,
        discardNote(g));
    }));
}

function closedLine() {
  const { session, deck } = snap;
  return h("p", { class: "subline" }, `${stepName(session.step, deck)} is closed. Results are hidden until the trainer reveals them.`);
}

/** The tables as a grid of tiles, sized so that up to 8 fit on one screen. */
function groupTiles(tile) {
  const n = snap.groups.length;
  const cols = n <= 4 ? n : Math.ceil(Math.sqrt(n * 1.9));
  const rows = Math.ceil(n / cols);
  return h("ul", { class: "group-progress", style: {
    "--cols": cols, "--rows": rows, "--scale": rows > 2 ? Math.max(0.45, 2 / rows) : n <= 2 ? 1.4 : 1,
    "--row": rows === 1 ? "minmax(0, 15em)" : "minmax(0, 1fr)",
  } }, snap.groups.map(tile));
}

/** A table's discard under its tile: tied (the trainer decides) or what it discarded. */
function discardNote(g) {
  const { step, open } = snap.session;
  const tied = g.discard_tied && !g.group_discard;
  if (tied && !(step === "discard" && open)) return h("span", { class: "note warn" }, `Tied: ${g.discard_tied.join(" or ")} – trainer decides`);
  return g.group_discard && step !== "discard" ? h("span", { class: "note" }, `Discarded ${g.group_discard}`) : null;
}

// -- results -----------------------------------------------------------------------------------
// Which results view: the trainer's choice (snap.projector_view), else the step's own view.
function resultsView() {
  const choice = snap.projector_view || { view: "step" };
  const step = snap.session.step;
  if (choice.view === "table") return { name: "table", table: choice.table };
  if (choice.view === "statement") return { name: "statement", statement: choice.statement };
  if (choice.view === "matrix") return { name: "matrix", page: choice.page || 0 };
  if (choice.view === "top") return { name: "top", page: choice.page || 0 };
  if (choice.view === "changes") return { name: "changes", page: choice.page || 0 };
  const byStep = { discard: "discard", rank: "matrix", similarities: "compare", top: "top", results: "matrix" };
  return { name: byStep[step] || "matrix", page: choice.page || 0 };
}

const FIT_LIMITS = [{ list: 5, apart: 6 }, { list: 4, apart: 4 }, { list: 3, apart: 3 }, { list: 2, apart: 2 }];

/** Render the results view; lists shorten (never the type) until nothing overflows. */
function fitResults() {
  const view = resultsView();
  for (const limits of FIT_LIMITS) {
    morph(main, [results(view, limits)]);
    if (!overflowing()) return;
  }
}

function overflowing() {
  const boxes = [main, ...main.querySelectorAll(".panel, .matrix-wrap, .ccol")];
  return boxes.some((b) => b.scrollHeight > b.clientHeight + 1 || b.scrollWidth > b.clientWidth + 1);
}

function results(view, limits) {
  const groups = snap.results.groups || [];
  const room = snap.results.room || {};
  const body = {
    discard: () => discardMatrix(groups, room, view.page),
    matrix: () => roomMatrix(groups, room, view.page),
    top: () => topMatrix(groups, room, view.page),
    compare: () => compare(groups, room, limits),
    table: () => tableView(groups.find((g) => g.group === view.table) || groups[0], groups, room, limits),
    statement: () => statementView(view.statement, groups, room),
    changes: () => changesView(snap.results.changes, view.page),
  }[view.name]();
  return h("div", { class: ["results", `results-${view.name}`], dataset: { key: `results-${view.name}` } }, body);
}

function chip(n, cls = "") {
  return h("span", { class: ["chip", cls] }, String(n));
}

/** A statement by its short title (the deck's), else its full text; wraps, never cut. */
function title(n) {
  return h("span", { class: "stext" }, titles.get(n) || `Statement ${n}`);
}

function meter(concordance, words) {
  const w = concordance ? concordance.w : null;
  const pct = w === null ? 0 : Math.round(w * 100);
  return h("div", { class: ["meter", w === null && "none"], role: "img",
    "aria-label": `Kendall's W ${w === null ? "not available" : fmt(w, 2)}: ${w === null ? words : agreementWords(w)}` },
  h("span", { class: "meter-label" }, h("span", { class: "w" }, w === null ? "W –" : `W ${fmt(w, 2)}`), " ",
    w === null ? words : agreementWords(w)),
  h("span", { class: "meter-track" }, h("span", { class: "meter-fill", style: { "--fill": `${pct}%` } })));
}

function stats(list) {
  return new Map((list || []).map((r) => [r.statement, r]));
}

/** Rows of the room matrix: the room's consensus order, else deck order. */
function roomRows(room) {
  const order = room.consensus_order || [];
  return order.length ? order : snap.deck.statements.map((s) => s.number);
}

/** The tables on this matrix page (at most snap.matrix_tables), and a note when paged. */
function tablePage(groups, page) {
  const size = snap.matrix_tables || 8;
  const pages = Math.max(1, Math.ceil(groups.length / size));
  const p = Math.min(page || 0, pages - 1);
  const shown = groups.slice(p * size, p * size + size);
  const first = p * size + 1;
  const last = first + shown.length - 1;
  const note = pages > 1 ? `Tables ${first === last ? first : `${first}–${last}`} of ${groups.length} · the trainer turns the page` : null;
  return { shown, note };
}

/** A position cell: colour from dark (1st) to pale (last), the number, or the discarded mark. */
function posCell(position, k, { gone = false, label = "" } = {}) {
  if (gone) {
    return h("td", { class: "cell gone", title: `${label}discarded` }, h("span", { "aria-hidden": "true" }, "✕"), h("span", { class: "sr-only" }, "discarded"));
  }
  if (!position) return h("td", { class: "cell empty" }, "–");
  const a = k > 1 ? 1 - (position - 1) / (k - 1) : 1;
  return h("td", { class: ["cell", a > 0.6 && "dark"], style: { "--a": (0.12 + 0.88 * a).toFixed(3) }, title: `${label}position ${position} of ${k}` }, String(position));
}

/** Letters in the longest word of a name: its column is made wide enough for that word, so the
 * name wraps between words, not inside one. */
function longestWord(name) {
  return Math.max(0, ...String(name).split(/\s+/).map((w) => [...w].length));
}

function matrix({ cls, tables, rows, cell, roomHead, roomCell, foot, note, legend }) {
  return h("div", { class: ["matrix-wrap", cls] },
    h("table", { class: "matrix", style: { "--t": tables.length + (roomHead ? 1 : 0) } },
      h("thead", {}, h("tr", {},
        h("th", { scope: "col", class: "m-stmt" }, h("span", { class: "sr-only" }, "Statement")),
        tables.map((g) => h("th", { scope: "col", class: "m-table", style: { "--chars": longestWord(g.name) } }, g.name)),
        roomHead ? h("th", { scope: "col", class: "m-table m-room" }, roomHead) : null)),
      h("tbody", {}, rows.map((n) => h("tr", { dataset: { key: `m-${n}` } },
        h("th", { scope: "row", class: "m-stmt" }, h("span", { class: "m-title" }, chip(n), title(n))),
        tables.map((g) => cell(g, n)),
        roomHead ? roomCell(n) : null))),
      foot ? h("tfoot", {}, foot) : null),
    h("p", { class: "legend" }, legend, note ? h("span", { class: "pagenote" }, note) : null));
}

function roomMatrix(groups, room, page) {
  const { shown, note } = tablePage(groups, page);
  const roomPlace = new Map((room.consensus_order || []).map((n, i) => [n, i + 1]));
  const n = snap.deck.statements.length;
  const tables = room.tables || {};
  const head = h("header", { class: "rhead" },
    h("h2", {}, snap.session.step === "results" ? "Each table's consensus and the room" : "Each table's consensus"),
    meter(tables.concordance, "Needs two tables"),
    h("p", { class: "rmeta" }, tables.concordance ? `tables agree (${plural(tables.compared.length, "table", "tables")})` : ""));
  return [head, matrix({
    cls: "room-matrix", tables: shown, rows: roomRows(room),
    cell: (g, s) => posCell(g.consensus_order.indexOf(s) + 1, (g.remaining || []).length, { gone: g.group_discard === s, label: `${g.name}: ` }),
    roomHead: "Room", roomCell: (s) => posCell(roomPlace.get(s), n, { label: "Room: " }),
    note, legend: ["1 = most important, darker = nearer the top · ", h("span", { class: "gone-key" }, "✕"), " = discarded by that table"],
  })];
}

function discardMatrix(allGroups, room, page) {
  const { shown: groups, note } = tablePage(allGroups, page);
  const open = snap.session.step === "discard" && snap.session.open;
  const totals = stats(room.per_statement);
  const rows = snap.deck.statements.map((s) => s.number)
    .sort((a, b) => ((totals.get(b) || {}).discard_votes || 0) - ((totals.get(a) || {}).discard_votes || 0) || a - b);
  const verdict = (g) => {
    const d = g.discard || {};
    if (g.group_discard) return h("td", { class: "verdict" }, chip(g.group_discard, "dark"));
    if (d.tied && d.voters) return h("td", { class: "verdict warn" }, open ? "level" : "tie");
    if (d.decided) return h("td", { class: "verdict" }, chip(d.decided), h("span", { class: "sr-only" }, " leading"));
    return h("td", { class: "verdict" }, "–");
  };
  const groupsDiscarded = room.groups_discarded || {};
  return [
    h("header", { class: "rhead" }, h("h2", {}, open ? "Discard votes so far" : "Which statement each table discards"),
      h("p", { class: "rmeta" }, open ? "Voting is open: a level vote is still a vote in progress." : "")),
    matrix({
      cls: "discard-matrix", tables: groups, rows,
      cell: (g, s) => {
        const d = g.discard || { votes: {}, voters: 0, leaders: [] };
        const c = d.votes[String(s)] || 0;
        const picked = g.group_discard === s;
        const tied = !g.group_discard && d.tied && d.voters && d.leaders.includes(s);
        return h("td", { class: ["cell", "votes", picked && "picked", tied && "tied"], style: { "--a": d.voters ? (0.06 + 0.5 * c / d.voters).toFixed(3) : "0.06" },
          title: `${g.name}: ${plural(c, "vote", "votes")}${picked ? ", discarded" : ""}` }, c ? String(c) : "");
      },
      roomHead: "Tables", roomCell: (s) => h("td", { class: "cell room-count" }, String(groupsDiscarded[String(s)] || 0)),
      foot: h("tr", {}, h("th", { scope: "row", class: "m-stmt foot" }, "Discards"), groups.map(verdict), h("td", {})),
      note,
      legend: ["votes per table · ", h("span", { class: "picked-key" }, "dark"), " = the table's discard · Tables = how many discard it"],
    }),
  ];
}

function topMatrix(allGroups, room, page) {
  const { shown: groups, note } = tablePage(allGroups, page);
  const n = snap.deck.statements.length;
  const order = room.top_order || [];
  const roomStats = stats(room.per_statement);
  const rest = snap.deck.statements.map((s) => s.number).filter((s) => !order.includes(s))
    .sort((a, b) => ((roomStats.get(b) || {}).top_points || 0) - ((roomStats.get(a) || {}).top_points || 0) || a - b);
  const size = snap.deck.top || 5;
  return [
    h("header", { class: "rhead" }, h("h2", {}, `Each table's top ${size}`),
      h("p", { class: "rmeta" }, `${plural(room.participants || 0, "person", "people")} · room = most points`)),
    matrix({
      cls: "top-matrix", tables: groups, rows: order.concat(rest),
      cell: (g, s) => {
        const place = (g.top_order || []).indexOf(s) + 1;
        if (g.group_discard === s) return posCell(null, size, { gone: true, label: `${g.name}: ` });
        return place ? posCell(place, size, { label: `${g.name}: top ${size} ` }) : h("td", { class: "cell blank" }, "");
      },
      roomHead: "Room", roomCell: (s) => {
        const place = order.indexOf(s) + 1;
        return place ? posCell(place, size, { label: "Room: " }) : h("td", { class: "cell blank" }, "");
      },
      legend: [`place in the table's top ${size} (1 = first) · `, h("span", { class: "gone-key" }, "✕"), " = discarded"],
      note,
    }),
  ];
}

/** Similarities and differences across the tables (room.tables, from facilitator.consensus). */
function compare(groups, room, limits) {
  const t = room.tables || {};
  const n = snap.deck.statements.length;
  const compared = t.compared || [];
  const head = h("header", { class: "rhead" }, h("h2", {}, "Across the tables"),
    meter(t.concordance, "Needs two tables"),
    h("p", { class: "rmeta" }, `how alike the ${plural(compared.length, "table's", "tables'")} orders are`));
  if (compared.length < 2) {
    return [head, h("div", { class: "panel" }, h("p", { class: "empty" }, "The comparison needs two tables with rankings."))];
  }
  const spread = stats(t.per_statement);
  const agreeItems = (t.agree_top || []).map((s) => [s, "top third at every table", "up"])
    .concat((t.agree_bottom || []).map((s) => [s, "bottom third or discarded at every table", "down"]));
  const agree = h("section", { class: "panel agree" }, h("h3", {}, "The whole room agrees"),
    agreeItems.length ? h("ul", { class: "flist" }, agreeItems.slice(0, limits.list).map(([s, why, dir]) =>
      h("li", { class: dir, dataset: { key: `a-${s}` } }, h("span", { class: "fline" }, chip(s), title(s)), h("span", { class: "why" }, why))))
      : h("p", { class: "empty" }, "No statement sits in the same third at every table."));
  const strip = (s) => {
    const r = spread.get(s) || { positions: [] };
    return h("span", { class: "strip", role: "img", "aria-label": groups.map((g, i) => `${g.name} ${r.positions[i] || "discarded"}`).join(", ") },
      groups.map((g, i) => {
        const p = r.positions[i];
        const gone = (r.discarded_by || []).includes(i);
        const a = p ? 1 - (p - 1) / Math.max(1, n - 1) : 0;
        return h("span", { class: "mini-col" }, h("span", { class: "tl" }, `T${g.group}`),
          h("span", { class: ["mini", gone && "gone", a > 0.6 && "dark"], style: { "--a": (0.12 + 0.88 * a).toFixed(3) } }, gone ? "✕" : p ? String(p) : "–"));
      }));
  };
  // which table each strip column (T1, T2, …) is: the tables' names, wrapped between words
  const key = h("p", { class: "tkey" }, groups.map((g) =>
    h("span", { class: "tk", dataset: { table: g.group } }, h("b", {}, `T${g.group}`), ` ${g.name}`)));
  const differ = h("section", { class: "panel differ" }, h("h3", {}, "Tables differ – talk about these"),
    (t.differ || []).length ? [key, h("ul", { class: "flist" }, t.differ.slice(0, Math.min(3, limits.list)).map((s) =>
      h("li", { dataset: { key: `d-${s}` } }, h("span", { class: "fline" }, chip(s), title(s)), strip(s))))]
      : h("p", { class: "empty" }, "No statement is strongly spread across the tables."));
  const apartList = (t.distinctive || []).slice(0, limits.apart);
  const apart = h("section", { class: "panel apart" }, h("h3", {}, "Where a table stands apart"),
    apartList.length ? h("ul", { class: "flist" }, apartList.map((d) =>
      h("li", { dataset: { key: `x-${d.table}-${d.statement}` } },
        h("span", { class: "apart-who" }, (groups[d.table] || {}).name || `Table ${d.table + 1}`, d.higher ? " ranks higher" : " ranks lower"),
        h("span", { class: "fline" }, chip(d.statement), title(d.statement)),
        h("span", { class: "why" }, `mean place ${fmt(d.table_mean, 1)} vs ${fmt(d.rest_mean, 1)} in the rest of the room`))))
      : h("p", { class: "empty" }, `No table differs clearly from the room (Mann–Whitney, p < ${t.distinctive_p || 0.01}, tables of ${t.distinctive_min || 3}+).`));
  return [head, h("div", { class: "compare-grid" }, h("div", { class: "ccol" }, agree, differ), h("div", { class: "ccol" }, apart))];
}

/** One table in detail: its consensus order with the heat map of its members' positions. */
function tableView(g, groups, room, limits) {
  if (!g) return h("p", { class: "empty" }, "No tables.");
  const st = stats(g.per_statement);
  const order = g.consensus_order || [];
  const k = (g.remaining || []).length;
  const m = g.rankings || 0;
  const index = groups.indexOf(g);
  const agreed = new Set(g.agreed || []);
  const contested = new Set(g.contested || []);
  const apart = ((room.tables || {}).distinctive || []).filter((d) => d.table === index).slice(0, Math.min(2, limits.apart));
  const head = h("header", { class: "rhead" }, h("h2", {}, g.name),
    meter(g.concordance, "Needs two rankings"),
    h("p", { class: "rmeta" }, `${plural(m, "ranking", "rankings")}${g.group_discard ? ` · discarded ${g.group_discard}` : ""}`));
  if (!order.length) return [head, h("div", { class: "panel" }, h("p", { class: "empty" }, "Waiting for rankings…"))];
  return [head, h("div", { class: "panel heat-panel" },
    h("table", { class: "heat-table", style: { "--k": k } },
      h("thead", {}, h("tr", {},
        h("th", { scope: "col", class: "place" }, h("span", { class: "sr-only" }, "Consensus position")),
        h("th", { scope: "col", class: "m-stmt" }, "Consensus order"),
        Array.from({ length: k }, (_, i) => h("th", { scope: "col", class: "pos" }, String(i + 1))),
        h("th", { scope: "col", class: "mean" }, "mean"),
        h("th", { scope: "col", class: "ht-tag" }, h("span", { class: "sr-only" }, "agreement")))),
      h("tbody", {}, order.map((n, i) => {
        const r = st.get(n) || {};
        const positions = r.positions || [];
        const tag = contested.has(n) ? "split" : agreed.has(n) ? "agreed" : "";
        return h("tr", { class: tag, dataset: { key: `s-${n}` } },
          h("td", { class: "place" }, String(i + 1)),
          h("th", { scope: "row", class: "m-stmt" }, h("span", { class: "m-title" }, chip(n), title(n))),
          Array.from({ length: k }, (_, p) => {
            const c = positions[p] || 0;
            const a = m ? c / m : 0;
            return h("td", { class: ["hcell", a > 0.6 && "dark"], style: { "--a": (0.05 + 0.95 * a).toFixed(3) }, title: `${c} at position ${p + 1}` }, c ? String(c) : "");
          }),
          h("td", { class: "mean" }, fmt(r.mean_rank, 1)),
          h("td", { class: "ht-tag" }, tag));
      }))),
    apart.length ? h("p", { class: "apart-line" }, "Stands apart: ", apart.map((d, i) => [i ? "; " : "", chip(d.statement, "small"), ` ranked ${d.higher ? "higher" : "lower"} than the room (${fmt(d.table_mean, 1)} vs ${fmt(d.rest_mean, 1)})`])) : null)];
}

/** One statement: its full text, its position at each table, and how the room's people spread. */
function statementView(s, groups, room) {
  const n = snap.deck.statements.length;
  const t = room.tables || {};
  const spread = stats(t.per_statement).get(s) || { positions: [], discarded_by: [] };
  const r = stats(room.per_statement).get(s) || { positions: [] };
  const counts = r.positions || [];
  const most = Math.max(1, ...counts);
  const withDiscard = snap.deck.discard ? ` (${n} = discarded)` : "";
  return [
    h("header", { class: "rhead statement-head" }, h("h2", { class: "full" }, chip(s), h("span", { class: "stext" }, texts.get(s) || `Statement ${s}`))),
    h("div", { class: "statement-grid" },
      h("section", { class: "panel" }, h("h3", {}, "Position at each table"),
        h("table", { class: "by-table" }, h("tbody", {}, groups.map((g, i) => h("tr", { dataset: { key: `bt-${g.group}` } },
          h("th", { scope: "row" }, g.name),
          posCell(spread.positions[i], (g.remaining || []).length || n, { gone: (spread.discarded_by || []).includes(i), label: `${g.name}: ` }))))),
        h("p", { class: "why" }, spread.spread === null || spread.spread === undefined ? "" : `spread across tables ${fmt(spread.spread, 1)} places`)),
      h("section", { class: "panel" }, h("h3", {}, `Everyone in the room${withDiscard}`),
        h("div", { class: "histogram", role: "img", "aria-label": counts.map((c, i) => `${c} at ${i + 1}`).join(", "), style: { "--n": counts.length || 1 } },
          counts.map((c, i) => h("span", { class: "hbar" }, h("span", { class: "count" }, String(c)),
            h("span", { class: "fill", style: { "--h": `${(100 * c) / most}%` } }), h("span", { class: "at" }, String(i + 1))))),
        h("p", { class: "why" }, `room mean place ${fmt(r.mean_rank, 1)} · spread ${fmt(r.rank_sd, 1)} places (SD) · ${plural(room.rankings || 0, "ranking", "rankings")}`))),
  ];
}

// Lobby and progress shrink their type a step at a time until nothing overflows (results keep
// their size: they drop list items instead, see fitResults).
function fitText() {
  let scale = 1;
  stage.style.setProperty("--fit", "1");
  const boxes = [main, ...main.querySelectorAll(".gp")];
  const tooTall = () => boxes.some((b) => b.scrollHeight > b.clientHeight + 2);
  for (let i = 0; i < 8 && tooTall(); i++) {
    scale -= 0.06;
    stage.style.setProperty("--fit", scale.toFixed(2));
  }
}

// -- what changed between rounds ---------------------------------------------------------------
/** Per table: round 1's consensus → the last round's or the table's agreed answer, each
 * statement's movement, W per round; and how far people moved, as an anonymous distribution. */
function changesView(changes, page) {
  if (!changes || !changes.tables.length) {
    return h("section", { class: "panel" }, h("h1", {}, "What changed"),
      h("p", { class: "lead" }, "Nothing to compare yet: a second round or a table's agreed answer is needed."));
  }
  const { shown, note } = tablePage(changes.tables, page);
  return [
    h("header", { class: "results-head" }, h("h1", {}, "What the discussion changed"),
      h("p", { class: "lead" }, movedLine(changes.room))),
    h("div", { class: "changes-grid" }, shown.map((t) => h("section", { class: "panel change", dataset: { key: `c-${t.group}` } },
      h("h2", {}, t.name),
      h("p", { class: "change-head" }, t.answer ? "Round 1 → agreed answer" : `Round ${t.first_round} → round ${t.last_round}`,
        " · ", Object.entries(t.concordance).map(([r, c]) => `W${r} ${c ? fmt(c.w, 2) : "–"}`).join(" → ")),
      h("ol", { class: "change-list" }, t.moves.slice(0, 5).map((m) => h("li", {},
        chip(m.statement), title(m.statement),
        h("span", { class: ["shift", m.moved > 0 && "up", m.moved < 0 && "down"] },
          m.moved > 0 ? `▲ ${m.moved}` : m.moved < 0 ? `▼ ${-m.moved}` : "=")))),
      distribution(t.answer ? t.to_answer : t.moved)))),
    note ? h("p", { class: "page-note" }, note) : null,
  ];
}

function movedLine(room) {
  const m = room.to_answer.people ? room.to_answer : room.moved;
  if (!m.people) return "Nobody has a second ranking yet.";
  const to = room.to_answer.people ? "to their table's answer" : "from their first ranking";
  return `People moved ${to}: median ${fmt(m.median, 1)} of ${m.most} pairs; ${m.unmoved} of ${m.people} did not move.`;
}

/** An anonymous histogram of how far people moved (pairs swapped), in four bands. */
function distribution(m) {
  if (!m.people) return null;
  const bands = [0, 0, 0, 0];
  for (const d of m.distances) bands[Math.min(3, Math.floor((4 * d) / (m.most + 1)))] += 1;
  const labels = ["little", "some", "much", "most"];
  return h("div", { class: "moved-bars", role: "img", "aria-label": `How far people moved: ${bands.map((n, i) => `${n} ${labels[i]}`).join(", ")}` },
    bands.map((n, i) => h("span", { class: "moved-bar" },
      h("span", { class: "n" }, String(n)),
      h("span", { class: "fill", style: { "--fill": `${(100 * n) / m.people}%` } }),
      h("span", { class: "l" }, labels[i]))));
}
