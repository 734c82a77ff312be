"""The web layer: JSON API routes, server-rendered pages, and the one error mapping."""
