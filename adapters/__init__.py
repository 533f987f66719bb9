"""Source adapters (normalise): one package per source system, registered by name in ``registry``."""
