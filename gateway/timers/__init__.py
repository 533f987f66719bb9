"""Deadlines and escalations that fire when time passes (docs/rules.md "Timers").

A time rule becomes a ``timers`` row when its trigger happens (in the processor's transaction); the
scheduler claims due rows atomically and fires each into ``missing.inbound`` as a timer message; the
processor handles it in one transaction (re-check the rule, notify, mark fired).
"""
