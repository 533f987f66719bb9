"""Mosaic (The Access Group) children's social care: workflow-step events, ``mosaic-workflow-event/1``.

Accepts one JSON event per input (HTTPS POST or AMQP). The meaning of a step type and of each form
question is the council's own, so every instance has a mapping file,
``mappings/sources/mosaic/<instance>.yaml`` (adapters/mosaic/mapping.py). A missing-episode step gives
``reported`` / ``risk_changed`` / ``updated`` / ``found`` / ``cancelled``; a return-interview step gives
``return_interview_offered`` / ``_completed`` / ``_declined``; any other step is valid, acknowledged and
ignored (``gateway_adapter_ignored_total``). Details in adapters/mosaic/README.md.
"""

from adapters.mosaic.adapter import MosaicAdapter

__all__ = ["MosaicAdapter"]
