-- The store's tables (facilitator/store.py creates them on start).
CREATE TABLE IF NOT EXISTS sessions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused: socket rooms are named by it
    code TEXT NOT NULL UNIQUE,
    title TEXT NOT NULL,
    deck TEXT NOT NULL,
    facilitator_token TEXT NOT NULL UNIQUE,
    projector_key TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    step TEXT NOT NULL DEFAULT 'lobby',
    open INTEGER NOT NULL DEFAULT 0,
    revealed INTEGER NOT NULL DEFAULT 0,
    closed INTEGER NOT NULL DEFAULT 0,
    version INTEGER NOT NULL DEFAULT 0,
    shuffle INTEGER NOT NULL DEFAULT 1,
    projector_view TEXT NOT NULL DEFAULT '{}'  -- the trainer's projector choice (JSON)
);
CREATE TABLE IF NOT EXISTS groups (
    session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    number INTEGER NOT NULL,
    name TEXT NOT NULL,
    discard INTEGER,
    discard_tied TEXT,
    kept_for INTEGER,
    PRIMARY KEY (session_id, number)
);
CREATE TABLE IF NOT EXISTS participants (
    session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    number INTEGER NOT NULL,
    group_number INTEGER NOT NULL,
    name TEXT NOT NULL,
    token TEXT NOT NULL UNIQUE,
    removed INTEGER NOT NULL DEFAULT 0,
    joined_at TEXT NOT NULL,
    join_id TEXT,  -- the phone's id for this join (a resent join finds them again)
    PRIMARY KEY (session_id, number)
);
CREATE TABLE IF NOT EXISTS answers (
    session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    participant INTEGER NOT NULL,
    step TEXT NOT NULL,
    answer TEXT NOT NULL,
    submission_id TEXT NOT NULL,
    saved_at TEXT NOT NULL,
    PRIMARY KEY (session_id, participant, step)
);
CREATE TABLE IF NOT EXISTS submissions (
    session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    participant INTEGER NOT NULL,
    submission_id TEXT NOT NULL,
    PRIMARY KEY (session_id, participant, submission_id)
);
CREATE TABLE IF NOT EXISTS settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
