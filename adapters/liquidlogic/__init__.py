"""Liquidlogic LCS (System C) children's social care.

Two inputs on one channel, told apart by their bytes: the CSV delta extract of
``HDM.Child_Social.FACT_MISSING_PERSON`` joined to person columns (one event per row; SFTP file drop
or HTTPS POST) and the "form finalised" XML notification (``urn:liquidlogic:lcs:form-notification:1``,
validated against the packaged XSD; HTTPS POST). The file-drop watcher keeps a watermark
(adapters/liquidlogic/watermark.py) so that a re-read file or an overlapping delta creates nothing
twice. Details in adapters/liquidlogic/README.md.
"""

from adapters.liquidlogic.adapter import LiquidlogicAdapter

__all__ = ["LiquidlogicAdapter"]
