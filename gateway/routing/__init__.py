"""Routing: episode change → notifications (recipients, minimisation, disclosure audit)."""
