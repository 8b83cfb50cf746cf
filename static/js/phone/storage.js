// What the phone keeps between page loads: its token, the answer waiting to be sent, drafts.
//
// localStorage may be unavailable (private modes, blocked site data, full quota): every value
// is also kept in memory, so the page works for as long as it stays open when localStorage
// refuses. This module calls nothing else of the page.

export function parseJSON(text, fallback) {
  try { return text ? JSON.parse(text) : fallback; } catch { return fallback; }
}

/** A key-value store over localStorage with an in-memory fallback. */
export function createStorage() {
  const memory = new Map();
  return {
    get(key) {
      try {
        const value = localStorage.getItem(key);
        if (value !== null) return value;
      } catch { /* fall back to memory */ }
      return memory.has(key) ? memory.get(key) : null;
    },
    set(key, value) {
      memory.set(key, value);
      try { localStorage.setItem(key, value); } catch { /* kept in memory only */ }
    },
    remove(key) {
      memory.delete(key);
      try { localStorage.removeItem(key); } catch { /* nothing to do */ }
    },
    getJSON(key) { return parseJSON(this.get(key), null); },
    setJSON(key, value) { this.set(key, JSON.stringify(value)); },
  };
}

/** The keys this phone uses for one session code. */
export function sessionKeys(code) {
  return {
    token: `facilitator:${code}`,
    pending: `facilitator:${code}:pending`,
    draft: (step) => `facilitator:${code}:draft:${step}`,
    seen: `facilitator:${code}:seen`, // what the phone last saw of its answers (see clearedNotice)
    cleared: `facilitator:${code}:cleared`, // why its answers were cleared, until it answers again
    joinId: `facilitator:${code}:join`, // the id of a join not answered yet (sent again with it)
  };
}
