"""Layer 4: the dashboard and JSON API (FastAPI + Jinja, server-rendered, no CDN)."""
