"""NHS organisations (wards, EDs, mental-health units, safeguarding teams): FHIR R4, UK Core.

Accepts a ``message`` or ``collection`` Bundle, or a single Communication / CommunicationRequest /
missing-child Flag with its Patient contained, as FHIR JSON or XML, over HTTPS
(``POST /fhir/R4/{instance}/...`` or ``POST /ingest/nhs/{instance}``) or MESH. Each input gives one
canonical event: a health setting reporting a child gone, a health service seeing a child flagged
missing, a child returned to the ward, or a request to be alerted about a named child. Details,
mapping and the list of what is refused: adapters/nhs/README.md; the health side as a whole:
docs/health.md.

Module map: ``read`` parses any FHIR R4 resource (``read_resources``, usable on its own), ``xml`` the
hardened XML layer, ``ukcore`` the NHS number and ODS checks fhir.resources does not make,
``references`` resolution inside a Bundle, ``message`` the README §5 checks, ``convert`` the §3 mapping,
``mapping`` the per-instance file, ``adapter`` the entry point.
"""

from adapters.nhs.adapter import NhsAdapter
from adapters.nhs.read import FhirRead, Located, read_resources
from adapters.nhs.ukcore import OrganizationIdentity, PatientIdentity

__all__ = ["FhirRead", "Located", "NhsAdapter", "OrganizationIdentity", "PatientIdentity", "read_resources"]
