"""De-normalise: a notification → the recipient's channel (AMQP queue, webhook, email, FHIR, MESH)."""
