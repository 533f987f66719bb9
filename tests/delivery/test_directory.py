"""The recipient directory: shipped entries load, a bad file fails naming file and entry, overlays."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.delivery.directory import DirectoryError, load_directory
from gateway.settings import REPO_ROOT

SHIPPED = REPO_ROOT / "mappings" / "directory"
COUNCILS = {"937", "831", "830", "886", "212", "860", "861"}


def test_the_shipped_directory_loads_with_every_council_front_door() -> None:
    d = load_directory(SHIPPED)
    for code in COUNCILS:
        entry = d.lookup("la", code, "front_door")
        assert entry is not None
        queues = [e.settings()["queue"] for e in entry.endpoints() if e.channel == "amqp"]
        assert queues == [f"la.{code}.front_door"]
    assert d.lookup("national", "ukmpu", "ukmpu") is not None
    examples = [e for e in d.entries.values() if e.example]
    assert {"school", "health", "provider"} <= {e.kind.value for e in examples}
    # Every example endpoint is on a reserved domain: nothing shipped can reach a real organisation.
    hosts = {h for e in examples for ep in e.endpoints() for h in ep.hosts()}
    assert hosts and all(h.endswith((".example", "example.org")) for h in hosts)
    assert {ep.channel for e in examples for ep in e.endpoints()} >= {"webhook", "email", "fhir", "mesh"}


def test_production_leaves_examples_out_and_refuses_reserved_domains(tmp_path: Path) -> None:
    d = load_directory(SHIPPED, production=True)
    assert not any(e.example for e in d.entries.values())
    assert d.lookup("la", "886", "front_door") is not None
    (tmp_path / "own.yaml").write_text(
        "recipients:\n"
        "  - {kind: school, id: '123456', role: school_dsl, channels: "
        "[{channel: email, to: [dsl@school.example]}]}\n"
    )
    with pytest.raises(
        DirectoryError, match=r"own.yaml: recipient #1 \(school.123456.school_dsl\): .*reserved"
    ):
        load_directory(None, tmp_path, production=True)
    assert load_directory(None, tmp_path).lookup("school", "123456", "school_dsl") is not None


def test_a_bad_file_fails_naming_file_entry_and_field(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text(
        """
recipients:
  - kind: la
    id: "886"
    role: front_door
    channels: [{channel: webhook, url: "ftp://x.example/", secret_env: S}]
  - kind: school
    id: "12"
    role: school_dsl
    channels: [{channel: email, to: [not-an-address]}]
  - kind: la
    id: "860"
    role: nobody
    channels: [{channel: pigeon}]
  - kind: la
    id: "861"
    role: front_door
    channels: []
  - kind: school
    id: "12"
    role: school_dsl
    channels: [{channel: amqp}]
"""
    )
    with pytest.raises(DirectoryError) as err:
        load_directory(None, tmp_path)
    text = str(err.value)
    assert (
        "bad.yaml: recipient #1 (la.886.front_door): channels.0.webhook: Value error, url 'ftp://x.example/'"
        in text
    )
    assert "bad.yaml: recipient #2 (school.12.school_dsl)" in text and "not an email address" in text
    assert "recipient #3 (la.860.nobody): role:" in text and "pigeon" in text
    assert "recipient #4 (la.861.front_door): channels:" in text
    assert "recipient #5 (school.12.school_dsl)" in text and "not a valid school identifier" in text


def test_secrets_are_names_of_variables_never_values(tmp_path: Path) -> None:
    (tmp_path / "s.yaml").write_text(
        "recipients:\n  - {kind: la, id: '886', role: edt, channels: "
        "[{channel: webhook, url: 'https://h.example/', secret_env: 'abc-not-a-name', secret: x}]}\n"
    )
    with pytest.raises(DirectoryError, match=r"secret_env|secret"):
        load_directory(None, tmp_path)


def test_duplicates_and_overlay(tmp_path: Path) -> None:
    dup = tmp_path / "dup"
    dup.mkdir()
    for name in ("a.yaml", "b.yaml"):
        (dup / name).write_text(
            "recipients:\n  - {kind: la, id: '886', role: edt, channels: [{channel: amqp}]}\n"
        )
    with pytest.raises(
        DirectoryError, match=r"b.yaml: recipient #1 \(la.886.edt\): la.886.edt is also defined in"
    ):
        load_directory(None, dup)
    overlay = tmp_path / "overlay"
    overlay.mkdir()
    (overlay / "kent.yaml").write_text(
        "recipients:\n  - {kind: la, id: '886', role: front_door, channels: "
        "[{channel: amqp}, {channel: email, to: [mash@kent.example]}]}\n"
    )
    d = load_directory(SHIPPED, overlay)
    assert [e.channel for e in d.lookup("la", "886", "front_door").endpoints()] == ["amqp", "email"]  # type: ignore[union-attr]
    assert d.sources["la.886.front_door"] == overlay / "kent.yaml"
    assert d.lookup("la", "860", "front_door") is not None  # the rest of the shipped layer stays
