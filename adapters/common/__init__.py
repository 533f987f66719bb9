"""Helpers shared by the social-care adapters (Mosaic, Liquidlogic, Liberi): one job per module.

Nothing here is a source system; the registry never loads this package as an adapter.
"""
