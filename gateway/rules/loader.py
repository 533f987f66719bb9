"""Load and check every area file: ``mappings/areas/*.yaml`` with ``mappings/profiles.yaml`` and
``mappings/calendars/``. A bad file fails loudly: every problem is reported at once, each naming the
file, the rule id and the field (``mappings/areas/kent.yaml: rule kent.rmm-72h: field after.since: ...``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import time
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from gateway.model import Episode, RecipientKind
from gateway.routing.profiles import Profile, ProfileFileError, allows, load_profiles
from gateway.rules.calendars import CalendarFileError, Calendars, load_calendars
from gateway.rules.model import EVENT_PLACEHOLDER, AreaFile, Rule, TaskAction, placeholders
from gateway.rules.paths import ID_PATHS, LITERAL_FORMATS, ROUTABLE_ID, is_path
from gateway.rules.yamlio import load_yaml

NATIONAL = "national"


@dataclass(frozen=True)
class RuleError:
    file: str
    rule: str
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: rule {self.rule}: field {self.field}: {self.message}"


class RuleFileError(RuntimeError):
    """One or more rule files are invalid; ``errors`` lists each problem."""

    def __init__(self, errors: list[RuleError]):
        self.errors = errors
        super().__init__("\n".join(str(e) for e in errors))


@dataclass
class LoadedFile:
    path: Path
    header: AreaFile
    rules: list[LoadedRule] = field(default_factory=list)

    @property
    def area(self) -> str:
        return self.header.area

    @property
    def authorities(self) -> frozenset[str]:
        return frozenset(self.header.authorities)

    @property
    def police_forces(self) -> frozenset[str]:
        return frozenset(self.header.police_forces)

    @property
    def is_national(self) -> bool:
        return self.header.area == NATIONAL

    def applies(self, episode: Episode) -> str | None:
        """Why this file's rules apply to ``episode`` (None: they do not)."""
        if self.is_national:
            return "national baseline"
        care = episode.care
        reasons = []
        if care and care.responsible_la in self.authorities:
            reasons.append(f"responsible LA {care.responsible_la}")
        if care and care.host_la in self.authorities:
            reasons.append(f"host LA {care.host_la}")
        police = episode.episode.police
        if police and police.force in self.police_forces:
            reasons.append(f"police force {police.force}")
        return ", ".join(reasons) or None


@dataclass
class LoadedRule:
    rule: Rule
    file: LoadedFile
    order: int
    lawful_basis: str
    consent: str

    @property
    def id(self) -> str:
        return self.rule.id

    @property
    def area(self) -> str:
        return self.file.area

    @property
    def digest_time(self) -> time:
        return self.file.header.digest_time


@dataclass
class Rulebook:
    files: list[LoadedFile]
    profiles: dict[str, Profile]
    calendars: Calendars
    rules: dict[str, LoadedRule] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.rules = {r.id: r for f in self.files for r in f.rules}

    def applicable(self, episode: Episode) -> list[tuple[LoadedFile, str]]:
        """National first, then each area whose authorities or police force the episode involves."""
        out = []
        for f in self.files:
            why = f.applies(episode)
            if why is not None:
                out.append((f, why))
        return out

    def windows(self) -> tuple[int, ...]:
        """The episode-count windows the rules use: the processor must compute each of them."""
        found: set[int] = set()
        for r in self.rules.values():
            found |= r.rule.windows()
        return tuple(sorted(found))


def _loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(rule)"


def _pydantic_errors(exc: ValidationError, file: str, rule: str, prefix: str = "") -> list[RuleError]:
    out = []
    for err in exc.errors(include_url=False, include_input=False):
        # Union members each report their own failure; the location names the member type, which
        # means nothing to a rule author: drop those steps.
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and ("[" in p or p[:1].isupper())))
        out.append(RuleError(file, rule, prefix + _loc(loc), err["msg"]))
    return out


def _check_ids(rule: Rule, where: str, kind: RecipientKind, ids: list[str]) -> list[str]:
    problems = []
    for expr in ids:
        if "." in expr:
            if expr not in ID_PATHS[kind]:
                allowed = sorted(ID_PATHS[kind]) or ["a literal id"]
                what = "a field of the Episode" if is_path(expr) else "not a field of the Episode"
                problems.append(f"{expr!r} ({what}) cannot address a {kind.value} recipient; use {allowed}")
        else:
            if not ROUTABLE_ID.match(expr):
                problems.append(
                    f"literal id {expr!r}: letters, digits, '-' and '_' only (it is part of the routing key)"
                )
            elif kind in LITERAL_FORMATS and not LITERAL_FORMATS[kind].match(expr):
                problems.append(f"literal id {expr!r} is not a valid {kind.value} code")
    return problems


def _check_rule(lr: LoadedRule, profiles: dict[str, Profile], file: str) -> list[RuleError]:
    rule, errors = lr.rule, []

    def err(fld: str, msg: str) -> None:
        errors.append(RuleError(file, rule.id, fld, msg))

    if rule.area is not None and rule.area != lr.area:
        err("area", f"{rule.area!r} differs from the file's area {lr.area!r}")
    if not rule.id.startswith(lr.area + "."):
        err("id", f"must start with the file's area: '{lr.area}.'")
    actions: list[tuple[str, Any]] = [(f"notify[{i}]", a) for i, a in enumerate(rule.notify)]
    actions += [(f"task[{i}]", a) for i, a in enumerate(rule.task)]
    for where, action in actions:
        for problem in _check_ids(rule, where, action.kind, action.id):
            err(f"{where}.id", problem)
        profile = profiles.get(action.profile)
        if profile is None:
            err(
                f"{where}.profile",
                f"unknown profile {action.profile!r}; mappings/profiles.yaml has {sorted(profiles)}",
            )
            continue
        text_field = "what" if isinstance(action, TaskAction) else "purpose"
        text = getattr(action, text_field)
        for name in placeholders(text or ""):
            if name == EVENT_PLACEHOLDER:
                continue
            if not is_path(name):
                err(f"{where}.{text_field}", f"{{{name}}} is not a field of the Episode")
            elif not allows(profile, name):
                err(
                    f"{where}.{text_field}",
                    f"{{{name}}} is withheld by profile {action.profile!r}: the text would disclose it",
                )
    for cond_name, cond in (("when", rule.when), ("while", rule.while_)):
        if cond is None:
            continue
        for pred in ("placed_in_area", "placed_out_of_area"):
            if cond.uses(pred) and not lr.file.authorities:
                err(
                    f"{cond_name}.{pred}",
                    "needs the file to declare its authorities (it is relative to them)",
                )
    return errors


def _inherited(body: Any, parent: str, area: str) -> Any:
    """A joint protocol's rule as the inheriting council's own: ``staffordshire.x`` becomes
    ``stoke-on-trent.x`` (its conditions then read relative to the inheriting file's authorities)."""
    if not isinstance(body, dict) or not isinstance(body.get("id"), str):
        return body
    rule_id: str = body["id"]
    out = {k: v for k, v in body.items() if k != "area"}
    if rule_id.startswith(parent + "."):
        out["id"] = area + rule_id[len(parent) :]
    return out


def load_rulebook(
    mappings_dir: Path,
    *,
    areas_dir: Path | None = None,
    profiles: dict[str, Profile] | None = None,
    calendars: Calendars | None = None,
) -> Rulebook:
    """Read and check everything; raise :class:`RuleFileError` listing every problem."""
    areas_dir = areas_dir or mappings_dir / "areas"
    errors: list[RuleError] = []
    try:
        profiles = profiles if profiles is not None else load_profiles(mappings_dir)
    except ProfileFileError as exc:
        raise RuleFileError(
            [RuleError(str(mappings_dir / "profiles.yaml"), "-", "profiles", str(exc))]
        ) from exc
    try:
        calendars = calendars or load_calendars(mappings_dir / "calendars")
    except CalendarFileError as exc:
        raise RuleFileError([RuleError(str(mappings_dir / "calendars"), "-", "calendar", str(exc))]) from exc

    files: list[LoadedFile] = []
    seen_ids: dict[str, str] = {}
    seen_areas: dict[str, str] = {}
    order = 0
    paths = sorted(areas_dir.glob("*.yaml")) if areas_dir.is_dir() else []
    if not paths:
        errors.append(
            RuleError(str(areas_dir), "-", "(directory)", "no area files (*.yaml): nothing would be routed")
        )
    headers: list[tuple[str, Path, AreaFile]] = []
    for path in paths:
        name = str(path)
        try:
            raw = load_yaml(path)
        except (OSError, yaml.YAMLError) as exc:
            errors.append(RuleError(name, "-", "(file)", f"cannot read: {exc}"))
            continue
        if not isinstance(raw, dict):
            errors.append(
                RuleError(name, "-", "(file)", "an area file is a mapping with area, name and rules")
            )
            continue
        try:
            header = AreaFile.model_validate(raw)
        except ValidationError as exc:
            errors.extend(_pydantic_errors(exc, name, "-"))
            continue
        if header.area in seen_areas:
            errors.append(
                RuleError(name, "-", "area", f"{header.area!r} is also declared by {seen_areas[header.area]}")
            )
            continue
        seen_areas[header.area] = name
        headers.append((name, path, header))
    by_area = {h.area: h for _, _, h in headers}
    for name, path, header in headers:
        bodies: list[Any] = list(header.rules)
        file_basis = header.lawful_basis
        if header.inherits is not None:
            parent = by_area.get(header.inherits)
            if parent is None:
                errors.append(
                    RuleError(name, "-", "inherits", f"no area file declares {header.inherits!r}")
                )
                continue
            if parent.inherits is not None:
                errors.append(
                    RuleError(name, "-", "inherits", f"{parent.area!r} inherits in turn: name the joint file")
                )
                continue
            parent_ids = {b.get("id") for b in parent.rules if isinstance(b, dict)}
            unknown = [i for i in header.inherits_except if i not in parent_ids]
            if unknown:
                errors.append(
                    RuleError(name, "-", "inherits_except", f"{unknown} are not rules of {parent.area!r}")
                )
                continue
            left_out = set(header.inherits_except)
            bodies = [
                _inherited(body, parent.area, header.area)
                for body in parent.rules
                if not (isinstance(body, dict) and body.get("id") in left_out)
            ] + bodies
            file_basis = file_basis or parent.lawful_basis
        loaded = LoadedFile(path, header.model_copy(update={"rules": []}))
        for index, body in enumerate(bodies):
            label = (
                body.get("id")
                if isinstance(body, dict) and isinstance(body.get("id"), str)
                else f"rules[{index}]"
            )
            try:
                rule = Rule.model_validate(body)
            except ValidationError as exc:
                errors.extend(_pydantic_errors(exc, name, str(label)))
                continue
            if rule.id in seen_ids:
                errors.append(
                    RuleError(name, rule.id, "id", f"duplicate: also defined in {seen_ids[rule.id]}")
                )
                continue
            seen_ids[rule.id] = name
            basis = rule.lawful_basis or file_basis
            if basis is None:
                errors.append(
                    RuleError(name, rule.id, "lawful_basis", "missing: give it on the rule or the file")
                )
                continue
            lr = LoadedRule(rule, loaded, order, basis, rule.consent or header.consent)
            order += 1
            rule_errors = _check_rule(lr, profiles, name)
            errors.extend(rule_errors)
            if not rule_errors:
                loaded.rules.append(lr)
        files.append(loaded)
    if errors:
        raise RuleFileError(errors)
    # National first (the baseline), then areas alphabetically: rule order decides ties between rules.
    files.sort(key=lambda f: (not f.is_national, f.area))
    order = 0
    for f in files:
        for r in f.rules:
            r.order = order
            order += 1
    return Rulebook(files, profiles, calendars)
