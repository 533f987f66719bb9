"""Episodes: correlation (which episode an event belongs to), lifecycle, store, the processor."""
