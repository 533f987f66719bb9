from tests.episodes.conftest import harness  # noqa: F401 - fixture
