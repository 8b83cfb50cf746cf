// The phone's screens, one function per step. Each builds DOM from what it is given and
// changes no state: what the participant does goes to `ctx.actions` (phone.js), and the
// screen's starting answer (`ctx.local`) is prepared before the screen is built.
//
// ctx: { state, local, code, notice, groups, title, textOf(n), topSize, actions }
import { h, setText } from "../dom.js";
import { instructionLines } from "../words.js";
import { orderList, statementRef } from "./order-list.js";
import { tableSimilarities } from "../table-similarities.js";

export function loading() {
  return h("section", { class: "card" }, h("p", { class: "lead" }, "Reconnecting to the workshop…"));
}

export function codeForm(ctx) {
  const input = h("input", {
    id: "code-input", class: "code-input", name: "code", autocomplete: "off", autocapitalize: "characters",
    spellcheck: "false", maxlength: "12", placeholder: "K7QX9MBR", required: true,
  });
  const form = h("form", { class: "stack", novalidate: true, on: { submit: (e) => {
    e.preventDefault();
    const value = input.value.replace(/\s+/g, "").toUpperCase();
    if (value) window.location.assign(`/j/${encodeURIComponent(value)}`);
  } } },
  h("label", { for: "code-input" }, "Join code"), input,
  h("button", { class: "button primary big", type: "submit" }, "Continue"));
  return h("section", { class: "card" },
    h("h1", {}, "Join a workshop"),
    h("p", { class: "lead" }, "Type the code shown on the projector."),
    ctx.notice ? h("p", { class: "form-error", role: "alert" }, ctx.notice) : null,
    form);
}

export function joinForm(ctx) {
  const { groups, notice, code } = ctx;
  const nameInput = h("input", {
    id: "name", name: "name", maxlength: "40", autocomplete: "nickname", autocapitalize: "words",
    enterkeyhint: "done",
  });
  const error = h("p", { class: "form-error", role: "alert", hidden: !notice }, notice || "");
  const button = h("button", { class: "button primary big", type: "submit", id: "join-button" }, "Join");
  let groupField;
  if (groups.length) {
    groupField = h("fieldset", { class: "choice-tiles" },
      h("legend", {}, "Your table"),
      groups.map((g, i) => h("label", { class: "tile" },
        h("input", { type: "radio", name: "group", value: g.id, required: true, checked: groups.length === 1 && i === 0 }),
        h("span", {}, g.name))));
  } else {
    groupField = h("p", { class: "muted" }, "You will be placed at the table with the fewest people.");
  }
  const form = h("form", { class: "stack", id: "join-form", novalidate: true, on: { submit: async (e) => {
    e.preventDefault();
    const chosen = form.querySelector("input[name=group]:checked");
    if (groups.length && !chosen) {
      error.hidden = false;
      setText(error, "Choose your table.");
      return;
    }
    button.disabled = true;
    setText(button, "Joining…");
    try {
      await ctx.actions.join(nameInput.value.trim() || null, chosen ? Number(chosen.value) : null);
    } catch (err) {
      button.disabled = false;
      setText(button, "Join");
      error.hidden = false;
      setText(error, err.code === "offline" || err.code === "timeout"
        ? "No connection to the workshop yet. Check the Wi-Fi and try again." : err.message);
    }
  } } },
  h("div", { class: "field" },
    h("label", { for: "name" }, "Your name ", h("span", { class: "optional" }, "(optional)")),
    nameInput),
  groupField, error, button);
  return h("section", { class: "card" },
    h("h1", {}, ctx.title || "Join the workshop"),
    h("p", { class: "lead" }, "Code ", h("strong", { class: "code" }, code), " · ",
      h("a", { href: "/j" }, "not this one?")),
    form);
}

function chip(n) {
  return h("span", { class: "num", "aria-hidden": "true" }, n);
}

/** The screen for the step the trainer has open (after a note on cleared answers, if any). */
export function stepView(ctx) {
  const note = ctx.cleared && !ctx.state.session.closed
    ? h("section", { class: "card notice", id: "cleared-note", role: "status" }, h("p", {}, ctx.cleared)) : null;
  return [note, screenFor(ctx)].flat();
}

function screenFor(ctx) {
  const { session } = ctx.state;
  if (session.closed) {
    return waitCard("This workshop has ended", "Thank you for taking part. The results stay on the projector.", yourAnswers(ctx));
  }
  switch (session.step) {
    case "lobby": return lobbyView(ctx);
    case "discard": return session.open ? discardView(ctx) : discardDecided(ctx);
    case "rank": return rankView(ctx);
    case "similarities":
      return tableSimilarities(ctx.state.similarities, ctx.textOf) || waitCard("Discuss with your table",
        "Where do you agree, and where do you differ? The projector shows the statements your table is split on.",
        myRanking(ctx, "Your ranking"));
    case "top": return topView(ctx);
    case "results":
      return waitCard("Results", "Look at the projector: your table's consensus, the other tables and the whole room.", yourAnswers(ctx));
    default:
      return waitCard("Please wait", "The trainer will open the next step.");
  }
}

function waitCard(title, text, ...extra) {
  return [h("section", { class: "card wait" }, h("h1", {}, title), h("p", { class: "lead" }, text)), ...extra];
}

/** A list of statements; a numbered one shows positions, with the statement's number muted after its text. */
function statementList(ctx, numbers, cls = "plain-list") {
  const ranked = cls.includes("numbered");
  return h("ol", { class: cls }, numbers.map((n) => h("li", { dataset: { statement: n } },
    ranked ? null : chip(n), h("span", { class: "text" }, ctx.textOf(n)), ranked ? statementRef(n) : null)));
}

function lobbyView(ctx) {
  const { deck } = ctx.state;
  const numbers = deck.statements.map((s) => s.number);
  const steps = instructionLines(deck.instructions);
  return [
    h("section", { class: "card wait" },
      h("h1", {}, "You're in"),
      h("p", { class: "lead" }, "Wait for the trainer to start. Meanwhile, read the statements and talk them over with your table.")),
    steps.length ? h("section", { class: "card", id: "instructions" }, h("h2", {}, "What you will do"),
      h("ul", { class: "instructions" }, steps.map((line) => h("li", {}, line)))) : null,
    h("section", { class: "card" }, h("h2", {}, "The statements"), statementList(ctx, numbers)),
  ];
}

function myRanking(ctx, title) {
  const rank = ctx.state.answers && ctx.state.answers.rank;
  if (!rank) return null;
  return h("section", { class: "card" }, h("h2", {}, title), statementList(ctx, rank, "plain-list numbered"));
}

function yourAnswers(ctx) {
  const { state } = ctx;
  const a = state.answers || {};
  const parts = [];
  if (state.group_discard) {
    parts.push(h("h2", {}, "Your table discarded"), statementList(ctx, [state.group_discard]));
  }
  if (a.top) parts.push(h("h2", {}, `Your top ${a.top.length}`), statementList(ctx, a.top, "plain-list numbered"));
  else if (a.rank) parts.push(h("h2", {}, "Your ranking"), statementList(ctx, a.rank, "plain-list numbered"));
  return parts.length ? h("section", { class: "card" }, parts) : null;
}

// -- discard ---------------------------------------------------------------------------------
function discardView(ctx) {
  const { state, local, actions } = ctx;
  const list = h("ul", { class: "choice-list", id: "discard-list" },
    state.deck.statements.map((s) => h("li", {},
      h("button", {
        type: "button", class: ["choice", s.number === local.discardChoice && "chosen"],
        dataset: { statement: s.number }, "aria-pressed": String(s.number === local.discardChoice),
        on: { click: () => actions.askDiscard(s.number) },
      }, chip(s.number), h("span", { class: "text" }, s.text), h("span", { class: "badge" }, "Your vote")))));
  const sheet = h("div", {
    class: "confirm-sheet", id: "confirm-sheet", hidden: true, role: "dialog", "aria-labelledby": "confirm-q",
    on: { keydown: (e) => { if (e.key === "Escape") actions.closeConfirm(); } }, // as Cancel
  },
    h("p", { id: "confirm-q", class: "confirm-q" }),
    h("p", { class: "confirm-text", id: "confirm-text" }),
    h("div", { class: "button-row" },
      h("button", { type: "button", class: "button secondary", id: "confirm-cancel", on: { click: () => actions.closeConfirm() } }, "Cancel"),
      h("button", { type: "button", class: "button primary", id: "confirm-yes", on: { click: () => actions.confirmDiscard() } }, "Discard it")));
  return [
    h("section", { class: "card" },
      h("h1", {}, "Which statement should your table discard?"),
      h("p", { class: "hint" }, "Tap one, then confirm. You can change your vote until the trainer closes this step."),
      list),
    sheet,
  ];
}

function discardDecided(ctx) {
  const { state } = ctx;
  const mine = state.answers.discard;
  const parts = [];
  if (state.group_discard) {
    parts.push(h("section", { class: "card decided" },
      h("h1", {}, "Your table discards"),
      statementList(ctx, [state.group_discard], "plain-list big"),
      h("p", { class: "muted" }, "Wait for the trainer to open the next step.")));
  } else if (state.discard_tied) {
    parts.push(h("section", { class: "card wait" },
      h("h1", {}, "Your table is tied"),
      h("p", { class: "lead" }, `The votes are tied between ${listWords(state.discard_tied)}. The trainer will settle it.`),
      statementList(ctx, state.discard_tied)));
  } else {
    parts.push(...waitCard("Voting is closed", "The trainer will open the next step."));
  }
  if (mine) parts.push(h("p", { class: "muted center" }, `Your vote was statement ${mine}.`));
  return parts;
}

export function listWords(numbers) {
  const words = numbers.map((n) => `statement ${n}`);
  return words.length > 1 ? `${words.slice(0, -1).join(", ")} and ${words[words.length - 1]}` : words[0];
}

// -- rank ------------------------------------------------------------------------------------
function saveButton(label, onClick) {
  return h("button", {
    type: "button", class: "button primary big save-button", "data-save-button": true,
    dataset: { label, ready: "1" }, on: { click: onClick },
  }, label);
}

function rankView(ctx) {
  const { state, local, actions } = ctx;
  const remaining = state.remaining;
  if (!remaining) {
    if (state.discard_tied) {
      return waitCard("Waiting for the trainer",
        `Your table's discard is tied between ${listWords(state.discard_tied)}. The trainer will settle it, then you can rank.`);
    }
    return waitCard("Waiting for your table's discard", "The trainer will close the discard vote first.");
  }
  const saved = state.answers.rank;
  if (!state.session.open) {
    return [
      ...waitCard("Ranking is closed", saved ? "This is the ranking you saved." : "You did not save a ranking."),
      saved ? h("section", { class: "card" }, statementList(ctx, saved, "plain-list numbered")) : null,
    ];
  }
  const list = orderList(local.rank, {
    id: "rank-list",
    label: "Your ranking, most important first",
    textOf: ctx.textOf,
    announce: actions.announce,
    onChange: (order) => actions.reordered("rank", order),
  });
  return [
    h("section", { class: "card" },
      h("h1", {}, "Rank the statements"),
      h("p", { class: "hint" }, "Most important at the top. Drag an item by its dark handle, or use ▲ ▼."),
      state.group_discard ? h("p", { class: "muted small" }, `Your table discarded statement ${state.group_discard}.`) : null),
    list,
    h("div", { class: "save-bar" },
      saveButton("Save my ranking", () => actions.save("rank")),
      h("p", { class: "muted small" }, "You can keep changing it until the trainer closes this step.")),
  ];
}

// -- top five --------------------------------------------------------------------------------
export function topView(ctx) {
  const { state } = ctx;
  const size = ctx.topSize;
  if (!state.remaining) {
    return waitCard("Waiting for the trainer", "Your table's discard has to be settled first.");
  }
  const saved = state.answers.top;
  if (!state.session.open) {
    return [
      ...waitCard(`Top ${size} is closed`, saved ? `This is the top ${size} you saved.` : `You did not save a top ${size}.`),
      saved ? h("section", { class: "card" }, statementList(ctx, saved, "plain-list numbered")) : null,
    ];
  }
  return ctx.local.topPhase === "order" ? topOrder(ctx) : topPick(ctx);
}

function topPick(ctx) {
  const { state, local, actions } = ctx;
  const size = ctx.topSize;
  // Offer them in the participant's own ranking order, so their top is at the top.
  const rank = state.answers.rank && state.answers.rank.length === state.remaining.length
    ? state.answers.rank : (state.start_order || state.remaining);
  const counter = h("p", { class: "counter", id: "pick-counter", role: "status" });
  const next = h("button", { type: "button", class: "button primary big", id: "to-order",
    on: { click: () => actions.topPhase("order") } }, "Next: put them in order");
  const list = h("ul", { class: "choice-list pick-list", id: "pick-list" }, rank.map((n) => h("li", {},
    h("button", { type: "button", class: "choice pick", dataset: { statement: n }, "aria-pressed": "false",
      on: { click: () => { actions.togglePick(n); marks(); } } },
    h("span", { class: "check", "aria-hidden": "true" }), h("span", { class: "text" }, ctx.textOf(n)), statementRef(n)))));
  // Shows local.top on the list (here and after each tap); never changes it.
  function marks() {
    const chosen = new Set(local.top);
    for (const button of list.querySelectorAll("button.pick")) {
      const n = Number(button.dataset.statement);
      const on = chosen.has(n);
      button.setAttribute("aria-pressed", String(on));
      button.classList.toggle("chosen", on);
      button.disabled = !on && chosen.size >= size;
      setText(button.querySelector(".check"), on ? String(local.top.indexOf(n) + 1) : "");
    }
    setText(counter, `${local.top.length} of ${size} chosen`);
    counter.classList.toggle("done", local.top.length === size);
    next.disabled = local.top.length !== size;
  }
  marks();
  return [
    h("section", { class: "card" },
      h("h1", {}, `Pick your top ${size}`),
      h("p", { class: "hint" }, `Tap the ${size} statements that matter most. Next you put them in order.`)),
    h("div", { class: "sticky-counter" }, counter),
    list,
    h("div", { class: "save-bar" }, next),
  ];
}

function topOrder(ctx) {
  const { local, actions } = ctx;
  const size = ctx.topSize;
  const list = orderList(local.top, {
    id: "top-list",
    label: `Your top ${size}, most important first`,
    textOf: ctx.textOf,
    announce: actions.announce,
    onChange: (order) => actions.reordered("top", order),
  });
  return [
    h("section", { class: "card" },
      h("h1", {}, `Order your top ${size}`),
      h("p", { class: "hint" }, "Most important at the top. Drag an item by its dark handle, or use ▲ ▼."),
      h("button", { type: "button", class: "button secondary small", id: "change-picks",
        on: { click: () => actions.topPhase("pick") } }, "← Change my picks")),
    list,
    h("div", { class: "save-bar" }, saveButton(`Save my top ${size}`, () => actions.save("top"))),
  ];
}
