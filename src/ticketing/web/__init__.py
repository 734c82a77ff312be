"""The web layer: one slice per module (``web/<module>/``: routes, pages, schemas,
templates, live stream) and the shell every process serves (``web/shell/``: session,
errors, validation, base templates, static assets, the live hub). ADR 0015."""
