"""COMPACT (WPC Software) police missing-person exports: ``urn:compact:missing-person-export:1`` XML.

Accepts one ``MissingPersonExport`` (one or many ``MissingPersonReport``) by HTTPS POST or file drop,
or the same export attached to a secure e-mail (``message/rfc822`` / ``.eml``). Each report gives one
canonical event (README §4); any hostile, unreadable or invalid document is rejected whole (README §7)
with a reason naming the report number. Each force has a mapping file,
``mappings/sources/compact/<instance>.yaml`` (adapters/compact/mapping.py). Details in
adapters/compact/README.md.

Module map: ``xml`` hardened parsing, ``validate`` the schema, ``checks`` the §7 rules, ``convert`` the
§4 mapping, ``mime`` e-mail unwrapping, ``mapping`` the per-force file, ``adapter`` the entry point.
"""

from adapters.compact.adapter import CompactAdapter
from adapters.compact.mime import message_id

__all__ = ["CompactAdapter", "message_id"]
