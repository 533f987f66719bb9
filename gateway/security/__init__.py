"""Authentication (API keys, OAuth2 client-credentials JWTs), scopes, and the access audit."""
