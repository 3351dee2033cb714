"""The warm interpreter: one process that imports the steps' libraries once and forks every step `python`
(docs/architecture.md, "Warm interpreters")."""
