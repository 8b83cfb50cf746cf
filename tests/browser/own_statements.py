"""Six statements a trainer might paste in place of a deck (no discard step, a top three),
shared by the browser tests that run such a session."""

SIX_STATEMENTS = [
    "Partners trust one another.",
    "Roles are clear.",
    "Information is shared on time.",
    "Decisions are made together.",
    "Resources are pooled.",
    "Success is measured jointly.",
]
