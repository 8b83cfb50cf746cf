// The projector: join code and QR while people join, progress per group while a step is open,
// and, when the trainer reveals them, the results the server computed (facilitator.consensus).
// It never computes results itself. Re-rendered in place (morph) so updates do not flicker.
import { $, h, morph, setText } from "./dom.js";
import { connect, request } from "./connection.js";
import { agreementWords, fmt, plural, statementMap, stepName } from "./words.js";

const body = document.body;
const key = body.dataset.key;
const stage = $("#stage");
const main = $("#proj-body");
const INPUT = ["discard", "rank", "top"];
// With more groups than fit, results page through them: every 12 s, or ?cycle=N seconds.
const PAGE_SECONDS = Math.max(1, Number(new URLSearchParams(window.location.search).get("cycle")) || 12);

let snap = null;
let texts = new Map();
let page = 0;
let pages = 1;
let pageTimer = null;

const joinUrl = body.dataset.joinUrl || "";
const joinShown = joinUrl.replace(/^https?:\/\//, "");
setText($("#join-host"), joinShown);

const socket = connect({ pill: $("#conn"), onConnect: watch });
socket.on("snapshot", (next) => show(next));

function watch() {
  request(socket, "watch", { projector: key })
    .then((reply) => show(reply.snapshot, true))
    .catch((err) => {
      setText($("#proj-foot-text"), err.message);
    });
}

function show(next, force = false) {
  if (!next) return;
  if (snap && !force && next.version < snap.version) return;
  const viewChanged = !snap || viewName(snap) !== viewName(next);
  snap = next;
  texts = statementMap(next.deck);
  if (viewChanged) {
    page = 0;
    stopPaging();
  }
  render();
}

window.addEventListener("resize", () => { if (snap) render(); });

// -- which view --------------------------------------------------------------------------------
function viewName(s) {
  const { step, closed } = s.session;
  const people = s.groups.reduce((n, g) => n + g.joined, 0);
  if (step === "lobby" && !closed) return "lobby";
  if (s.results && s.session.revealed) {
    if (step === "lobby") return people ? "lobby" : "lobby";
    return `results-${step}`;
  }
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

  let content;
  if (!view.startsWith("results")) stopPaging();
  if (view === "lobby") content = lobby();
  else if (view === "progress") content = progress();
  else content = results(session.step);
  morph(main, [content].flat());
  fitText();
}

// -- lobby -----------------------------------------------------------------------------------
function lobby() {
  const qr = $("#qr-template").cloneNode(true);
  qr.hidden = false;
  qr.removeAttribute("id");
  qr.dataset.keep = "1";
  return h("div", { class: "lobby", dataset: { key: "lobby" } },
    h("section", { class: "lobby-join" },
      h("h1", {}, "Join on your phone"),
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
        h("span", { class: "count" }, String(g.joined)))))));
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
  const joined = snap.groups.reduce((n, g) => n + g.joined, 0);
  const answered = input ? snap.groups.reduce((n, g) => n + (g.answered[step] || 0), 0) : 0;
  const n = snap.groups.length;
  const cols = n <= 4 ? n : Math.ceil(Math.sqrt(n * 1.9));
  const rows = Math.ceil(n / cols);
  let headline;
  if (session.closed) headline = "The session has ended. Thank you!";
  else if (input) headline = `${answered} of ${joined} have answered`;
  else if (step === "similarities") headline = "Discuss with your table: where do you agree, where do you differ?";
  else headline = "Results will appear here";
  return h("div", { class: "progress", dataset: { key: "progress" } },
    h("p", { class: "headline" }, headline),
    input && !session.open && !session.closed ? h("p", { class: "subline" }, `${stepName(step, deck)} is closed. Results are hidden until the trainer reveals them.`) : null,
    h("ul", { class: "group-progress", style: {
      "--cols": cols, "--rows": rows, "--scale": rows > 2 ? Math.max(0.45, 2 / rows) : n <= 2 ? 1.4 : 1,
      "--row": rows === 1 ? "minmax(0, 15em)" : "minmax(0, 1fr)",
    } },
      snap.groups.map((g) => {
        const done = input ? g.answered[step] || 0 : null;
        const pct = g.joined && done !== null ? (100 * done) / g.joined : 0;
        const tied = g.discard_tied && !g.group_discard;
        return h("li", { class: ["gp", done !== null && g.joined && done === g.joined && "all"], dataset: { key: `g-${g.id}` } },
          h("span", { class: "gname" }, g.name),
          done === null
            ? h("span", { class: "big" }, String(g.joined), h("span", { class: "of" }, g.joined === 1 ? " person" : " people"))
            : h("span", { class: "big" }, String(done), h("span", { class: "of" }, ` / ${g.joined}`)),
          done === null ? null : h("span", { class: "pbar" }, h("span", { style: { "--fill": `${pct}%` } })),
          tied ? h("span", { class: "note warn" }, `Tied: ${g.discard_tied.join(" or ")} – trainer decides`)
            : g.group_discard && step !== "discard" ? h("span", { class: "note" }, `Discarded ${g.group_discard}`) : null);
      })));
}

// -- results -----------------------------------------------------------------------------------
function results(step) {
  const groups = (snap.results.groups || []).slice();
  if (step === "results") return overview(groups);
  const perPage = step === "discard" || step === "top" ? 3 : 2;
  const shown = paginate(groups, perPage);
  const make = { discard: discardGroup, rank: rankGroup, similarities: similarGroup, top: topGroup }[step] || rankGroup;
  return h("div", { class: ["results", `results-${step}`], dataset: { key: `results-${step}` } },
    h("div", { class: "columns", style: { "--cols": Math.max(1, shown.length) } }, shown.map(make)),
    pager(groups.length, perPage));
}

/**
 * The groups on the current page. The page turns on its own clock: snapshots (which can come
 * several times a second while phones answer) re-render the page but never restart the clock.
 */
function paginate(items, perPage) {
  pages = Math.max(1, Math.ceil(items.length / perPage));
  if (page >= pages) page = 0;
  if (pages > 1 && pageTimer === null) {
    pageTimer = setInterval(() => {
      page = (page + 1) % pages;
      render();
    }, PAGE_SECONDS * 1000);
  } else if (pages <= 1) {
    stopPaging();
  }
  return items.slice(page * perPage, page * perPage + perPage);
}

function stopPaging() {
  clearInterval(pageTimer);
  pageTimer = null;
}

function pager(total, perPage) {
  const pages = Math.ceil(total / perPage);
  if (pages <= 1) return null;
  return h("p", { class: "pager" }, `Groups ${page * perPage + 1}–${Math.min(total, (page + 1) * perPage)} of ${total}`,
    h("span", { class: "dots" }, Array.from({ length: pages }, (_, i) => h("span", { class: ["dot", i === page && "on"] }))));
}

function chip(n, cls = "") {
  return h("span", { class: ["chip", cls] }, String(n));
}

function label(n) {
  return h("span", { class: "stext" }, texts.get(n) || `Statement ${n}`);
}

function groupHead(g, extra) {
  return h("header", { class: "ghead" },
    h("h2", {}, g.name),
    h("p", { class: "gmeta" }, extra));
}

function meter(concordance, compact = false) {
  const w = concordance ? concordance.w : null;
  const pct = w === null ? 0 : Math.round(w * 100);
  return h("div", { class: ["meter", compact && "compact", w === null && "none"], role: "img",
    "aria-label": `Kendall's W ${w === null ? "not available" : fmt(w, 2)}: ${agreementWords(w)}` },
  h("span", { class: "meter-label" }, h("span", { class: "w" }, w === null ? "W –" : `W ${fmt(w, 2)}`), " ", agreementWords(w)),
  h("span", { class: "meter-track" }, h("span", { class: "meter-fill", style: { "--fill": `${pct}%` } }),
    [0.1, 0.3, 0.5, 0.7, 0.9].map((t) => h("span", { class: "meter-tick", style: { "--at": `${t * 100}%` } }))));
}

function stats(g) {
  const map = new Map();
  for (const r of g.per_statement || []) map.set(r.statement, r);
  return map;
}

function discardGroup(g) {
  const d = g.discard;
  const votes = d ? Object.entries(d.votes).map(([n, c]) => [Number(n), c]) : [];
  const voted = votes.filter(([, c]) => c > 0).sort((a, b) => b[1] - a[1] || a[0] - b[0]);
  const none = votes.filter(([, c]) => c === 0).map(([n]) => n);
  const max = Math.max(1, ...voted.map(([, c]) => c));
  const leaders = new Set(d ? d.leaders : []);
  let verdict;
  if (g.group_discard) verdict = h("p", { class: "verdict ok" }, "Discards ", chip(g.group_discard, "dark"));
  else if (d && d.tied && d.voters) verdict = h("p", { class: "verdict warn" }, `Tied: ${d.leaders.join(" or ")} – the trainer decides`);
  else verdict = h("p", { class: "verdict" }, d && d.voters ? `Leading: ${d.leaders.join(", ")}` : "No votes yet");
  return h("section", { class: "gcol", dataset: { key: `d-${g.group}` } },
    groupHead(g, `${plural(d ? d.voters : 0, "vote", "votes")}`),
    verdict,
    h("ul", { class: "tally" }, voted.slice(0, 7).map(([n, c]) => h("li", { class: leaders.has(n) && "lead", dataset: { key: `v-${n}` } },
      chip(n), label(n),
      h("span", { class: "vbar" }, h("span", { style: { "--fill": `${(100 * c) / max}%` } })),
      h("span", { class: "vcount" }, String(c))))),
    none.length ? h("p", { class: "none" }, `No votes: ${none.join(", ")}`) : null);
}

function heatRow(r, k, m) {
  const positions = r.positions || [];
  return h("span", { class: "heat", style: { "--k": k } }, Array.from({ length: k }, (_, i) => {
    const c = positions[i] || 0;
    const a = m ? c / m : 0;
    return h("span", { class: ["cell", a > 0.5 && "dark"], style: { "--a": a.toFixed(3) }, title: `${c} at position ${i + 1}` }, c ? String(c) : "");
  }));
}

function rankGroup(g) {
  const st = stats(g);
  const order = g.consensus_order || [];
  const k = (g.remaining || []).length;
  const m = g.rankings || 0;
  if (!order.length) {
    return h("section", { class: "gcol", dataset: { key: `r-${g.group}` } },
      groupHead(g, "no rankings yet"), h("p", { class: "empty" }, "Waiting for rankings…"));
  }
  return h("section", { class: "gcol", dataset: { key: `r-${g.group}` } },
    groupHead(g, `${plural(m, "ranking", "rankings")}${g.group_discard ? ` · discarded ${g.group_discard}` : ""}`),
    meter(g.concordance),
    h("div", { class: "heat-table", style: { "--k": k, "--n": order.length } },
      h("div", { class: "hrow head" },
        h("span", { class: "place" }, ""), h("span", { class: "stmt" }, "Consensus order"),
        h("span", { class: "heat", style: { "--k": k } }, Array.from({ length: k }, (_, i) => h("span", { class: "cell label" }, String(i + 1)))),
        h("span", { class: "mean" }, "mean")),
      order.map((n, i) => {
        const r = st.get(n) || {};
        return h("div", { class: "hrow", dataset: { key: `s-${n}` } },
          h("span", { class: "place" }, String(i + 1)),
          h("span", { class: "stmt" }, chip(n), label(n)),
          heatRow(r, k, m),
          h("span", { class: "mean" }, fmt(r.mean_rank, 1)));
      })));
}

function similarGroup(g) {
  const st = stats(g);
  const k = (g.remaining || []).length;
  const m = g.rankings || 0;
  const contested = g.contested || [];
  const agreed = g.agreed || [];
  const row = (n, cls) => {
    const r = st.get(n) || {};
    return h("li", { class: cls, dataset: { key: `${cls}-${n}` } }, chip(n), label(n), heatRow(r, k, m),
      h("span", { class: "mean" }, fmt(r.mean_rank, 1)));
  };
  return h("section", { class: "gcol", dataset: { key: `s-${g.group}` } },
    groupHead(g, plural(m, "ranking", "rankings")),
    meter(g.concordance),
    h("h3", { class: "split" }, "Split on – talk about these"),
    contested.length ? h("ul", { class: "srows" }, contested.slice(0, 4).map((n) => row(n, "contested")))
      : h("p", { class: "none" }, m < 2 ? "Needs two rankings." : "Nothing strongly contested."),
    h("h3", { class: "agreed" }, "Agreed"),
    agreed.length ? h("ul", { class: "srows" }, agreed.slice(0, 4).map((n) => row(n, "agreed")))
      : h("p", { class: "none" }, m < 2 ? "Needs two rankings." : "No statement clearly agreed."));
}

function topGroup(g) {
  const st = stats(g);
  const order = g.top_order || [];
  const size = g.top_size || 5;
  const tops = g.tops || 0;
  const maxPoints = Math.max(1, tops * size);
  return h("section", { class: "gcol", dataset: { key: `t-${g.group}` } },
    groupHead(g, `${plural(tops, "top " + size, "tops " + size)}`),
    order.length ? h("ol", { class: "toplist" }, order.map((n, i) => {
      const r = st.get(n) || {};
      return h("li", { dataset: { key: `t-${n}` } },
        h("span", { class: "place" }, String(i + 1)), chip(n), label(n),
        h("span", { class: "pts" },
          h("span", { class: "vbar" }, h("span", { style: { "--fill": `${(100 * (r.top_points || 0)) / maxPoints}%` } })),
          h("span", { class: "ptext" }, `${r.top_points || 0} pts · ${r.top_count || 0}/${tops}`)));
    })) : h("p", { class: "empty" }, "Waiting for top picks…"));
}

function overview(groups) {
  const perPage = 3;
  const shown = paginate(groups, perPage);
  const room = snap.results.room || {};
  const roomStats = new Map((room.per_statement || []).map((r) => [r.statement, r]));
  const roomOrder = room.consensus_order || [];
  const discarded = Object.entries(room.groups_discarded || {}).filter(([, c]) => c > 0)
    .sort((a, b) => b[1] - a[1]).map(([n, c]) => `${n}${c > 1 ? ` ×${c}` : ""}`);
  return h("div", { class: "results results-overview", dataset: { key: "overview" } },
    h("div", { class: "columns", style: { "--cols": shown.length + 1 } },
      shown.map((g) => {
        const order = (g.top_order && g.top_order.length ? g.top_order : (g.consensus_order || []).slice(0, g.top_size || 5));
        return h("section", { class: "gcol", dataset: { key: `o-${g.group}` } },
          groupHead(g, g.group_discard ? h("span", {}, "discarded ", chip(g.group_discard, "small")) : plural(g.participants || 0, "person", "people")),
          meter(g.concordance, true),
          h("h3", {}, g.top_order && g.top_order.length ? `Top ${g.top_size || 5}` : "Consensus"),
          order.length ? h("ol", { class: "toplist compact" }, order.map((n, i) => h("li", { dataset: { key: `o-${n}` } },
            h("span", { class: "place" }, String(i + 1)), chip(n), label(n)))) : h("p", { class: "empty" }, "No answers yet."));
      }),
      h("section", { class: "gcol room", dataset: { key: "room" } },
        h("header", { class: "ghead" }, h("h2", {}, "Whole room"),
          h("p", { class: "gmeta" }, `${plural(room.rankings || 0, "ranking", "rankings")} · ${plural(room.groups || groups.length, "group", "groups")}`)),
        meter(room.concordance, true),
        h("h3", {}, "Consensus"),
        roomOrder.length ? h("ol", { class: "toplist compact room-order" }, roomOrder.map((n, i) => {
          const r = roomStats.get(n) || {};
          return h("li", { dataset: { key: `room-${n}` } }, h("span", { class: "place" }, String(i + 1)), chip(n), label(n),
            h("span", { class: "mean" }, fmt(r.mean_rank, 1)));
        })) : h("p", { class: "empty" }, "No rankings yet."),
        discarded.length ? h("p", { class: "none" }, `Discarded: ${discarded.join(", ")}`) : null)),
    pager(groups.length, perPage));
}

// Long statements are cut to one line with an ellipsis by CSS; if a column is still too tall
// (many statements on a small screen) shrink the body's type a step until nothing overflows.
// Columns clip what does not fit (overflow: hidden), so they are measured too: a clipped last
// row (an 11-statement heat map on a 720p projector) counts as too tall.
function fitText() {
  let scale = 1;
  stage.style.setProperty("--fit", "1");
  const boxes = [main, ...main.querySelectorAll(".gcol, .gp")];
  const tooTall = () => boxes.some((b) => b.scrollHeight > b.clientHeight + 2);
  for (let i = 0; i < 8 && tooTall(); i++) {
    scale -= 0.06;
    stage.style.setProperty("--fit", scale.toFixed(2));
  }
}
