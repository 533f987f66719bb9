"""Liberi (CareWorks) children's social care: Missing Persons Pathway webhook events.

JSON, camelCase, ``specVersion`` 1.x, one event per HTTPS POST, signed with HMAC-SHA256 of the raw
body (``X-Liberi-Signature: sha256=<hex>``) using a per-instance secret named by
``mappings/sources/liberi/<instance>.yaml`` (``secret_env``). :meth:`LiberiAdapter.authenticate` checks
the signature and the signed ``publishedAt`` (replay window) before the ingest layer stores anything.
Details in adapters/liberi/README.md.
"""

from adapters.liberi.adapter import LiberiAdapter

__all__ = ["LiberiAdapter"]
