// Words shared by the pages: step names, agreement labels, statement look-up.

export const STEP_NAMES = {
  lobby: "Joining",
  discard: "Discard one",
  rank: "Rank",
  similarities: "Similarities and differences",
  top: "Top five",
  results: "Results",
};

/** The step's name for this deck ("Top 3" for a deck with a top of three). */
export function stepName(step, deck) {
  if (step === "top" && deck && deck.top && deck.top !== 5) return `Top ${deck.top}`;
  return STEP_NAMES[step] || step;
}

/** A short name, for tight places (the console's step buttons). */
export function shortStepName(step, deck) {
  return step === "similarities" ? "Similarities" : stepName(step, deck);
}

/** The steps this deck actually has (no discard step for a deck with discard 0). */
export function deckSteps(steps, deck) {
  return (steps || Object.keys(STEP_NAMES)).filter((s) => !(s === "discard" && deck && deck.discard === 0));
}

/** Kendall's W in plain words. */
export function agreementWords(w) {
  if (w === null || w === undefined) return "Needs two rankings";
  if (w < 0.1) return "Hardly any agreement";
  if (w < 0.3) return "Weak agreement";
  if (w < 0.5) return "Moderate agreement";
  if (w < 0.7) return "Strong agreement";
  if (w < 0.9) return "Very strong agreement";
  return "Near-total agreement";
}

/** Map of statement number → text for a deck. */
export function statementMap(deck) {
  const map = new Map();
  for (const s of (deck && deck.statements) || []) map.set(s.number, s.text);
  return map;
}

export function plural(n, one, many) {
  return `${n} ${n === 1 ? one : many}`;
}

export function fmt(x, digits = 1) {
  return x === null || x === undefined ? "–" : Number(x).toFixed(digits);
}

/** The steps at which a participant hands in an answer (facilitator.workshop.INPUT_STEPS). */
export const INPUT_STEPS = Object.freeze(["discard", "rank", "top"]);

/** A deck's instructions as lines, bullets ("•", "-", "*") dropped: the handout's list. */
export function instructionLines(text) {
  return String(text || "").split("\n").map((line) => line.replace(/^\s*[•*\-–]\s*/, "").trim()).filter(Boolean);
}
