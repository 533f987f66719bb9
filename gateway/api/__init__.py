"""FastAPI app: ingest endpoints (more resources arrive with the API issue)."""
