"""Missing-episode gateway: normalise source feeds, orchestrate sharing rules, de-normalise to recipients."""

__version__ = "0.1.0"
