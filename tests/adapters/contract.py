"""The one test suite every adapter passes (mixed into each adapter's tests, as FastStream does for
its brokers).

A concrete test class sets the class attributes and inherits :class:`AdapterContract`:

    class TestCompactContract(AdapterContract):
        system = "compact"
        instance = "staffordshire-police"
        valid = [Specimen("01-new.xml", {"event_type": "reported", "child.family_name": "..."}), ...]
        invalid = [Invalid("xxe", b"<?xml ...", "DOCTYPE")]

Expectations are dotted paths into the event's JSON (``model_dump(mode="json")``); a list index may
be a path part (``child.ids.la_ids.0.la_code``). Values are compared exactly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.base import AdapterError, RawInput
from adapters.registry import get_adapter
from gateway.model import MissingEpisodeEvent
from gateway.settings import REPO_ROOT

SHARED = REPO_ROOT.parent / "shared"
SPECIMENS = SHARED / "contracts" / "specimens"
MAPPINGS = REPO_ROOT / "mappings"
RECEIVED = datetime(2026, 3, 4, 9, 0, tzinfo=UTC)


@dataclass
class Specimen:
    """A valid input and what each of its events must contain (one dict per event, in order)."""

    path: str
    expect: list[dict[str, Any]]
    content_type: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Invalid:
    """An input that must be rejected; ``reason`` is a substring of the error's reason (case-insensitive)."""

    name: str
    body: bytes
    reason: str
    content_type: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


def dig(data: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        if isinstance(data, list):
            data = data[int(part)]
        elif isinstance(data, dict):
            if part not in data:
                raise KeyError(f"{dotted}: no {part!r} in {sorted(data)}")
            data = data[part]
        else:
            raise KeyError(f"{dotted}: cannot descend into {data!r}")
    return data


class AdapterContract:
    system: ClassVar[str]
    instance: ClassVar[str]
    specimen_dir: ClassVar[Path]
    valid: ClassVar[list[Specimen]] = []
    invalid: ClassVar[list[Invalid]] = []
    fuzz_examples: ClassVar[int] = 300

    # --- helpers -------------------------------------------------------------------------
    def adapter(self):
        return get_adapter(self.system, MAPPINGS)

    def raw(
        self,
        body: bytes,
        content_type: str | None = None,
        headers: dict[str, str] | None = None,
        filename: str | None = None,
    ) -> RawInput:
        return RawInput(
            body=body,
            instance=self.instance,
            received_at=RECEIVED,
            content_type=content_type,
            filename=filename,
            headers=headers or {},
        )

    def parse_specimen(self, spec: Specimen) -> list[MissingEpisodeEvent]:
        path = self.specimen_dir / spec.path
        raw = self.raw(
            path.read_bytes(),
            spec.content_type,
            self.sign(path.read_bytes(), spec.headers),
            filename=path.name,
        )
        adapter = self.adapter()
        adapter_auth = getattr(adapter, "authenticate", None)
        if adapter_auth:
            adapter_auth(raw)
        return adapter.parse(raw)

    def sign(self, body: bytes, headers: dict[str, str]) -> dict[str, str]:
        """Adapters with signed channels override this to add a valid signature."""
        return headers

    # --- the contract --------------------------------------------------------------------
    def test_every_valid_specimen_maps_to_its_expected_fields(self) -> None:
        assert self.valid, "a contract needs at least one valid specimen"
        for spec in self.valid:
            events = self.parse_specimen(spec)
            assert len(events) == len(spec.expect), (
                f"{spec.path}: {len(events)} events, expected {len(spec.expect)}"
            )
            for event, expect in zip(events, spec.expect, strict=True):
                doc = event.model_dump(mode="json", by_alias=True)
                assert doc["source"]["system"] == self.system
                assert doc["source"]["instance"] == self.instance
                for dotted, want in expect.items():
                    got = dig(doc, dotted)
                    if isinstance(want, set):
                        got = set(got)
                    assert got == want, f"{spec.path}: {dotted} is {got!r}, expected {want!r}"

    def test_every_invalid_input_is_rejected_with_a_reason(self) -> None:
        assert self.invalid, "a contract needs invalid inputs"
        adapter = self.adapter()
        for case in self.invalid:
            raw = self.raw(case.body, case.content_type, case.headers)
            try:
                auth = getattr(adapter, "authenticate", None)
                if auth:
                    auth(raw)
                adapter.parse(raw)
            except AdapterError as exc:
                assert case.reason.lower() in exc.reason.lower(), (
                    f"{case.name}: reason {exc.reason!r} does not mention {case.reason!r}"
                )
            else:
                raise AssertionError(f"{case.name}: accepted but should be rejected")

    def test_the_same_input_twice_gives_the_same_idempotency_keys(self) -> None:
        for spec in self.valid:
            first = [e.idempotency_key for e in self.parse_specimen(spec)]
            second = [e.idempotency_key for e in self.parse_specimen(spec)]
            assert first == second
            assert len(set(first)) == len(first), f"{spec.path}: two events share a key"

    def test_no_byte_string_makes_the_adapter_raise_anything_but_its_error(self) -> None:
        adapter = self.adapter()
        seeds = [(self.specimen_dir / s.path).read_bytes() for s in self.valid]

        @settings(
            max_examples=self.fuzz_examples,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        )
        @given(data=st.data())
        def run(data: st.DataObject) -> None:
            choice = data.draw(st.sampled_from(["random", "mutate", "truncate"]))
            if choice == "random" or not seeds:
                body = data.draw(st.binary(max_size=2048))
            else:
                seed = data.draw(st.sampled_from(seeds))
                if choice == "truncate":
                    body = seed[: data.draw(st.integers(0, len(seed)))]
                else:
                    pos = data.draw(st.integers(0, max(len(seed) - 1, 0)))
                    junk = data.draw(st.binary(min_size=1, max_size=16))
                    body = seed[:pos] + junk + seed[pos + len(junk) :]
            try:
                adapter.parse(self.raw(body, headers=self.sign(body, {})))
            except AdapterError as exc:
                assert exc.reason  # every rejection says why

        run()
