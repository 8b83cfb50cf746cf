// The trainer's console: step controls, ties, participants, a private results preview.
// Every control is a socket event with the facilitator token; its ack carries the new snapshot.
// Buttons carry data-action attributes and one delegated listener acts on them, so the page can
// be re-rendered in place (morph) on every snapshot without stale handlers.
import { $, h, morph, setText } from "./dom.js";
import { connect, request, subscription } from "./connection.js";
import { choiceOf, chooser } from "./projector-chooser.js";
import { agreementWords, deckSteps, fmt, plural, shortStepName, statementMap, stepName } from "./words.js";

const token = document.body.dataset.token;
const INPUT = ["discard", "rank", "top"];
let snap = null;
let texts = new Map();
let titles = new Map(); // statement number → the deck's short title, where it has one

const errorBox = $("#console-error");
// Subscribe on every (re)connection; a busy or slow server is asked again (connection.js).
let subscribe = null;
const socket = connect({ pill: $("#conn"), onConnect: () => subscribe() });
subscribe = subscription(socket, "facilitate", { token }, {
  onReply: (reply) => {
    errorBox.hidden = true;
    show(reply.snapshot, true);
  },
  onError: (err) => fail(err),
});
socket.on("snapshot", (next) => show(next));

function show(next, force = false) {
  if (!next) return;
  if (snap && !force && next.version < snap.version) return; // an older snapshot arrived late
  snap = next;
  texts = statementMap(next.deck);
  titles = new Map(((next.deck && next.deck.statements) || []).filter((st) => st.short).map((st) => [st.number, st.short]));
  render();
}

function fail(err) {
  errorBox.hidden = false;
  setText(errorBox, err.message);
}

async function control(event, payload = {}) {
  errorBox.hidden = true;
  try {
    const reply = await request(socket, event, { token, ...payload });
    show(reply.snapshot, true);
    return true;
  } catch (err) {
    fail(err);
    return false;
  }
}

// -- confirmation dialog -----------------------------------------------------------------------
const dialog = $("#confirm-dialog");
function confirmAction(title, text, okLabel) {
  setText($("#confirm-title"), title);
  setText($("#confirm-text"), text);
  setText($("#confirm-ok"), okLabel);
  dialog.returnValue = "";
  dialog.showModal();
  $("#confirm-cancel").focus();
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
  });
}

/**
 * What opening `step` from here puts at risk, for a confirmation; null when it is the next step
 * and clears nothing (the usual one click). Re-opening the discard vote names each table whose
 * rankings and top picks would be cleared if its discard changes; going back or skipping ahead
 * says so.
 */
function stepWarning(step) {
  if (!snap) return null;
  const { session, deck } = snap;
  const steps = deckSteps(session.steps, deck);
  const from = steps.indexOf(session.step);
  const to = steps.indexOf(step);
  const name = stepName(step, deck);
  if (step === "discard") {
    const tops = deck.top === 5 ? ["top five", "top fives"] : [`top ${deck.top}`, `top ${deck.top}s`];
    const atRisk = snap.groups.filter((g) => g.answered.rank || g.answered.top).map((g) => {
      const lost = [g.answered.rank ? plural(g.answered.rank, "ranking", "rankings") : null,
        g.answered.top ? plural(g.answered.top, ...tops) : null].filter(Boolean).join(" and ");
      return `${g.name}'s discard may change: its ${lost} would be cleared.`;
    });
    if (atRisk.length) {
      return {
        title: "Re-open the discard vote?",
        text: `${atRisk.join(" ")} A table's answers are cleared only if its discard comes out (or a tie is settled) different from now; its phones are told why.`,
        ok: "Re-open the vote",
      };
    }
  }
  if (to < from) {
    return { title: `Go back to ${name}?`, text: `Every phone goes back to ${name}. Answers saved so far are kept.`, ok: `Go back to ${name}` };
  }
  if (to > from + 1) {
    const skipped = steps.slice(from + 1, to).map((s) => stepName(s, deck)).join(", ");
    return { title: `Skip ahead to ${name}?`, text: `Every phone moves to ${name}, skipping ${skipped}.`, ok: `Skip to ${name}` };
  }
  return null;
}

// -- actions (one delegated listener) ----------------------------------------------------------
let stepping = false; // a step change is in flight: the step buttons stay disabled until its ack

function disableStepButtons() {
  for (const b of document.querySelectorAll('[data-action="open"], [data-action="close"], [data-action="new-round"]')) b.disabled = true;
}

/** Run one step change (`change` resolves after its ack); a second one meanwhile is ignored. */
async function oneStepChange(change) {
  if (stepping) return;
  stepping = true;
  disableStepButtons();
  try {
    await change();
  } finally {
    stepping = false;
    if (snap) render();
  }
}

document.addEventListener("click", async (e) => {
  const button = e.target.closest("[data-action]");
  if (!button || button.disabled) return;
  const { action } = button.dataset;
  // One step change at a time: a double click on "Next" or "New round" must not send it twice.
  if (action === "close") {
    await oneStepChange(() => control("close_step"));
  } else if (action === "open") {
    await oneStepChange(async () => {
      const warning = stepWarning(button.dataset.step);
      if (!warning || await confirmAction(warning.title, warning.text, warning.ok)) {
        await control("open_step", { step: button.dataset.step, mode: button.dataset.mode || "individual" });
      }
    });
  } else if (action === "new-round") {
    await oneStepChange(async () => {
      const round = snap.session.round + 1;
      const ok = await confirmAction(`Start round ${round}?`,
        "Everyone ranks again on their own phone, starting from their own last ranking. This round's answers are kept, read-only, for the comparison.",
        `Start round ${round}`);
      if (ok) await control("new_round");
    });
  } else if (action === "lock") {
    await control("lock_table", { group: Number(button.dataset.group), locked: button.dataset.locked === "1" });
  } else if (action === "settle") {
    await control("settle", { group: Number(button.dataset.group), statement: Number(button.dataset.statement) });
  } else if (action === "project") {
    await control("show_on_projector", choiceOf(button));
  } else if (action === "remove") {
    const ok = await confirmAction("Remove this participant?",
      `${button.dataset.name} leaves the session; their answers leave the results and exports.`, "Remove");
    if (ok) await control("remove_participant", { participant: Number(button.dataset.participant) });
  }
});

// A switch the trainer flipped, until its ack: a snapshot sent before the change reached the
// server must not flip it back under their hand.
const switching = { reveal: null, lock: null };

async function toggleSwitch(name, event, payload) {
  switching[name] = Object.values(payload)[0];
  try {
    await control(event, payload);
  } finally {
    switching[name] = null;
    if (snap) render(); // the server's word: on failure the switch goes back
  }
}

document.addEventListener("change", (e) => {
  if (e.target.id === "reveal-toggle") toggleSwitch("reveal", "reveal", { revealed: e.target.checked });
  if (e.target.id === "lock-toggle") toggleSwitch("lock", "lock_joins", { locked: e.target.checked });
});

$("#reset-button").addEventListener("click", async () => {
  const people = snap ? snap.groups.reduce((n, g) => n + g.joined, 0) : 0;
  const ok = await confirmAction("Reset the whole session?",
    `This deletes ${plural(people, "participant", "participants")} and every answer, and goes back to the lobby. It cannot be undone.`,
    "Reset session");
  if (ok) await control("reset_session", { confirm: "RESET" });
});

$("#close-session-button").addEventListener("click", async () => {
  const ok = await confirmAction("End the session?",
    "Phones can no longer join or answer. Results and exports stay.", "End session");
  if (ok) await control("close_session");
});

// -- rendering ---------------------------------------------------------------------------------
function render() {
  renderPage();
  if (stepping) disableStepButtons(); // a snapshot arrived before the step change's ack
}

function renderPage() {
  const { session, deck } = snap;
  setText($("#session-title"), session.title);
  const steps = deckSteps(session.steps, deck);
  const current = steps.indexOf(session.step);
  renderStatus(session, deck);
  morph($("#stepper"), steps.map((step, i) => {
    const isCurrent = step === session.step;
    const state = isCurrent
      ? (INPUT.includes(step) ? (session.open ? "open – answering" : "closed") : "now")
      : i < current ? "done" : "";
    return h("li", { class: [isCurrent && "current", i < current && "done"], dataset: { key: step } },
      h("button", {
        // from round 2 on the discard stays as round 1 left it (the server refuses to reopen it)
        type: "button", dataset: { action: "open", step },
        disabled: isCurrent || session.closed || (step === "discard" && session.round > 1),
        "aria-current": isCurrent ? "step" : null, title: isCurrent ? null : `Open ${stepName(step, deck)}`,
      },
      h("span", { class: "n" }, `Step ${i + 1}`),
      h("span", { class: "name" }, shortStepName(step, deck)),
      h("span", { class: "state" }, state)));
  }));
  morph($("#step-controls"), controls(session, deck, steps));
  const toggle = $("#reveal-toggle");
  // the property, which the attribute no longer drives
  if (toggle) toggle.checked = switching.reveal ?? session.revealed;
  const lock = $("#lock-toggle");
  if (lock) lock.checked = switching.lock ?? session.joins_locked;
  morph($("#projector-choice"), chooser(snap));
  renderTies();
  renderGroups();
  renderPreview();
}

function renderStatus(session, deck) {
  let text = session.round > 1 ? `Round ${session.round}. ` : "";
  if (session.closed) text = "The session has ended.";
  else if (INPUT.includes(session.step)) {
    const how = session.mode === "table" ? "each table builds one answer together" : "phones can answer";
    text += `${stepName(session.step, deck)} is ${session.open ? `open: ${how}` : "closed"}.`;
  } else if (session.step === "lobby") text += "Lobby: people are joining.";
  else text += `${stepName(session.step, deck)}: no answers in this step.`;
  text += session.revealed ? " Results are on the projector." : " Results are hidden.";
  setText($("#step-status"), text);
}

function controls(session, deck, steps) {
  const reveal = h("label", { class: "switch", for: "reveal-toggle" },
    h("input", { type: "checkbox", id: "reveal-toggle", checked: session.revealed }),
    "Show results on the projector");
  // an ended session's results can still be shown or hidden (the server accepts reveal)
  if (session.closed) return [h("p", { class: "muted" }, "Ended sessions cannot be changed."), reveal];
  const next = steps[steps.indexOf(session.step) + 1];
  const items = [];
  if (INPUT.includes(session.step) && session.open) {
    items.push(h("button", { type: "button", class: "button primary", id: "close-step", dataset: { action: "close" } },
      `Close ${stepName(session.step, deck)}`));
  } else {
    if (next) {
      items.push(h("button", { type: "button", class: "button primary", id: "next-step", dataset: { action: "open", step: next } },
        `Next: ${stepName(next, deck)} →`));
    }
    if (next && INPUT.includes(next)) {
      items.push(h("button", { type: "button", class: "button secondary", id: "next-step-table", dataset: { action: "open", step: next, mode: "table" } },
        `${shortStepName(next, deck)} as a table →`));
    }
    if (INPUT.includes(session.step)) {
      items.push(h("button", { type: "button", class: "button secondary", id: "reopen-step", dataset: { action: "open", step: session.step } },
        "Reopen"));
      items.push(h("button", { type: "button", class: "button secondary", id: "reopen-table", dataset: { action: "open", step: session.step, mode: "table" } },
        "Reopen as a table"));
    }
    if (["rank", "similarities", "top", "results"].includes(session.step)) {
      items.push(h("button", { type: "button", class: "button secondary", id: "new-round", dataset: { action: "new-round" } },
        `Round ${session.round + 1}: rank again`));
    }
  }
  items.push(reveal);
  items.push(h("label", { class: "switch", for: "lock-toggle" },
    h("input", { type: "checkbox", id: "lock-toggle", checked: session.joins_locked }),
    "Lock joins (no new participants)"));
  return items;
}

function renderTies() {
  // an ended session cannot be changed: nothing to settle there
  const tied = snap.session.closed ? [] : snap.groups.filter((g) => g.discard_tied && !g.group_discard);
  const box = $("#ties");
  box.hidden = tied.length === 0;
  morph($("#ties-list"), tied.map((g) => h("div", { class: "tie", dataset: { key: `tie-${g.id}` } },
    h("p", {}, h("strong", {}, g.name), ` is tied between ${g.discard_tied.join(" and ")}. Choose their discard after hearing them:`),
    h("div", { class: "button-row" }, g.discard_tied.map((n) => h("button", {
      type: "button", class: "button secondary", dataset: { action: "settle", group: g.id, statement: n },
    }, `Discard ${n}: ${title(n)}`))))));
}

/** A statement by the deck's short title where it has one, else its full text (wrapped, never cut). */
function title(n) {
  return titles.get(n) || texts.get(n) || "";
}

function renderGroups() {
  const { session } = snap;
  const step = session.step;
  const total = snap.groups.reduce((n, g) => n + g.joined, 0);
  setText($("#room-count"), `${plural(total, "person", "people")} in ${plural(snap.groups.length, "group", "groups")}`);
  morph($("#groups"), snap.groups.map((g) => {
    const answered = INPUT.includes(step) ? g.answered[step] : null;
    const discard = g.group_discard ? `Discards ${g.group_discard}`
      : g.discard_tied ? `Tied: ${g.discard_tied.join(", ")}` : "";
    return h("section", { class: "console-group", dataset: { key: `g-${g.id}`, group: g.id } },
      h("h3", {}, h("span", { class: "gname" }, g.name), h("span", { class: "muted" }, `${g.joined}`)),
      h("p", { class: "group-meta" },
        answered === null ? plural(g.joined, "person", "people") : `${answered} of ${g.joined} answered`,
        discard ? ` · ${discard}` : ""),
      answered === null || g.board ? null : h("div", { class: "bar", role: "img", "aria-label": `${answered} of ${g.joined} answered` },
        h("span", { style: { "--fill": `${g.joined ? (100 * answered) / g.joined : 0}%` } })),
      g.board ? boardLine(g) : null,
      h("ul", { class: "people" }, (g.participants || []).map((p) => h("li", { dataset: { key: `p-${p.id}`, participant: p.id } },
        h("span", { class: "pname", title: p.name || null, dir: "auto" }, p.name || `Participant ${p.id}`),
        h("span", { class: "ticks", "aria-label": progressWords(p) },
          ["discard", "rank", "top"].filter((s) => s !== "discard" || snap.deck.discard).map((s) => h("span", {
            class: ["tick", p.answered[s] && "yes"], title: `${stepName(s, snap.deck)}: ${p.answered[s] ? "answered" : "not yet"}`,
          }, s[0].toUpperCase()))),
        h("button", {
          type: "button", class: "icon-button", dataset: { action: "remove", participant: p.id, name: p.name || `Participant ${p.id}` },
          "aria-label": `Remove ${p.name || `participant ${p.id}`}`,
        }, "Remove")))));
  }));
}

/** A table's shared board: who agrees, locked or not, and the trainer's lock. */
function boardLine(g) {
  const b = g.board;
  const words = b.locked ? `Locked · ${b.agreed.length} of ${b.members} agreed`
    : `Building together · ${plural(b.agreed.length, "agrees", "agree")} · ${b.version} ${b.version === 1 ? "move" : "changes"}`;
  return h("p", { class: "group-board", dataset: { locked: b.locked ? "1" : "0" } }, words, " ",
    h("button", {
      type: "button", class: "button secondary small", dataset: { action: "lock", group: g.id, locked: b.locked ? "0" : "1" },
      "aria-label": `${b.locked ? "Unlock" : "Lock"} ${g.name}'s answer`,
    }, b.locked ? "Unlock" : "Lock"));
}

function progressWords(p) {
  const done = Object.entries(p.answered).filter(([, v]) => v).map(([k]) => stepName(k, snap.deck));
  return done.length ? `Answered: ${done.join(", ")}` : "No answers yet";
}

function renderPreview() {
  const results = snap.results;
  if (!results || !results.groups) {
    morph($("#preview"), [h("p", { class: "muted" }, "No results yet.")]);
    return;
  }
  morph($("#preview"), [...changesPreview(results.changes), ...results.groups.map((g) => {
    const w = g.concordance ? g.concordance.w : null;
    return h("section", { class: "preview-group", dataset: { key: `r-${g.group}` } },
      h("h3", {}, g.name),
      h("p", { class: "muted" },
        `${plural(g.rankings || 0, "ranking", "rankings")} · W ${w === null ? "–" : fmt(w, 2)} (${agreementWords(w).toLowerCase()})`,
        g.group_discard ? ` · discarded ${g.group_discard}` : ""),
      g.consensus_order && g.consensus_order.length
        // one number per row, the position; the statement's number muted after the text
        ? h("ol", {}, g.consensus_order.map((n) => h("li", {}, title(n), " ", h("span", { class: "ref" }, `#${n}`))))
        : h("p", { class: "muted" }, "No complete ranking yet."));
  })]);
}

/** What the discussion changed, per table: round 1's consensus against the last round's or
 * the table's agreed answer, W per round, how far people moved (rounds.what_changed). */
function changesPreview(changes) {
  if (!changes || !changes.tables.length) return [];
  const room = changes.room;
  return [h("section", { class: "preview-group changes", id: "what-changed", dataset: { key: "changes" } },
    h("h3", {}, "What changed"),
    h("p", { class: "muted" }, movedWords("Moved from their first ranking", room.moved),
      room.to_answer.people ? ` · ${movedWords("to their table's answer", room.to_answer)}` : ""),
    changes.tables.map((t) => h("div", { class: "change", dataset: { key: `c-${t.group}` } },
      h("h4", {}, t.name, " · ", t.answer ? "round 1 → agreed answer" : `round ${t.first_round} → round ${t.last_round}`),
      h("p", { class: "muted" }, Object.entries(t.concordance).map(([r, c]) => `W round ${r}: ${c ? fmt(c.w, 2) : "–"}`).join(" · "),
        ` · ${t.distance} of ${t.most} pairs swapped`),
      h("ol", {}, t.moves.map((m) => h("li", {}, title(m.statement), " ", h("span", { class: "ref" }, `#${m.statement}`),
        " ", h("span", { class: "moved" }, m.moved > 0 ? `▲${m.moved}` : m.moved < 0 ? `▼${-m.moved}` : "=")))))))];
}

function movedWords(label, m) {
  if (!m.people) return `${label}: nobody yet`;
  return `${label}: median ${fmt(m.median, 1)} of ${m.most} pairs (${plural(m.people, "person", "people")}, ${m.unmoved} unmoved)`;
}
