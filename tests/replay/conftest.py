from tests.e2e.conftest import worker  # noqa: F401  (the in-process worker fixture)
