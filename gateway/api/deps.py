"""Dependencies as ``Annotated`` aliases (full-stack-fastapi-template style)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session, sessionmaker

from gateway.ingest.service import IngestService
from gateway.settings import Settings


def _settings(request: Request) -> Settings:
    return request.app.state.settings


def _ingest(request: Request) -> IngestService:
    return request.app.state.ingest


def _sessions(request: Request) -> sessionmaker[Session]:
    return request.app.state.sessions


SettingsDep = Annotated[Settings, Depends(_settings)]
IngestDep = Annotated[IngestService, Depends(_ingest)]
SessionsDep = Annotated[sessionmaker[Session], Depends(_sessions)]
