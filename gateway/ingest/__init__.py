"""Ingest: accept, store raw (claim check), call the adapter, quarantine bad input, publish."""
