"""Settings, read once from the environment (prefix ``PPFLOW_``, nested groups with ``__``)."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, Field, field_validator
from pydantic_settings import (
    BaseSettings,
    DotEnvSettingsSource,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from ppflow import resources
from ppflow.domain.errors import PPFlowError
from ppflow.domain.lifecycle import AdvisorStage
from ppflow.domain.model import LANGUAGES

# Names a file of PPFLOW_... lines that every ppflow process reads (the CLI, `ppflow serve`,
# the portal, and the flow runs of a worker, whose work pool's job variables name it), so
# that one configuration reaches them all. A variable set in the environment wins over
# the file.
ENV_FILE_VARIABLE = "PPFLOW_ENV_FILE"


class SettingsFileError(PPFlowError):
    """The file PPFLOW_ENV_FILE names cannot be read."""


def env_file() -> Path | None:
    """The file ``PPFLOW_ENV_FILE`` names (None when unset or empty). A file named but
    missing is an error: a process that silently ran without the organization's
    configuration would sign links with the development key and mail nobody."""
    named = os.environ.get(ENV_FILE_VARIABLE, "").strip()
    if not named:
        return None
    path = Path(named).expanduser()
    if not path.is_file():
        raise SettingsFileError(
            f"{ENV_FILE_VARIABLE} names {path}, which is not a file this process can read"
        )
    return path


def _default_data_dir() -> Path:
    return Path.home() / ".local" / "share" / "ppflow"


# Signs links on a development machine only: refused elsewhere (ppflow.services.links).
DEVELOPMENT_SIGNING_KEY = "development-only-signing-key"


class SmtpSettings(BaseModel):
    """Where mail goes: ``PPFLOW_SMTP__HOST``, ``PPFLOW_SMTP__PORT`` and so on."""

    host: str = "127.0.0.1"
    port: int = 8025
    username: str | None = None
    password: str | None = None
    # Or the name of a Prefect Secret block holding the password (read by the flows).
    password_block: str | None = None
    starttls: bool = False
    use_tls: bool = False
    sender: str = "partenariat@ppflow.invalid"
    default_language: str = "fr"
    # A private CA for the SMTP server's certificate (STARTTLS or implicit TLS).
    ca_file: Path | None = None
    timeout_seconds: float = 30.0
    # Dispatcher: connections kept open at once (also the most messages that can be sent
    # twice if a dispatcher dies), rows claimed per batch, how long a claim holds before
    # another dispatcher may take the row (a running pass renews it every third of that),
    # and the retry schedule.
    concurrency: int = 4
    batch_size: int = 200
    lease_seconds: float = 30.0
    max_attempts: int = 8
    retry_base_seconds: float = 60.0
    retry_max_seconds: float = 3600.0
    # Where `ppflow mail-sink` stores messages (default: <data_dir>/maildir).
    maildir: Path | None = None


class PortalSettings(BaseModel):
    """The survey portal: ``PPFLOW_PORTAL__HOST``, ``PPFLOW_PORTAL__SIGNING_KEY``..."""

    host: str = "127.0.0.1"
    port: int = 8000
    # Signs the personal survey and withdrawal links. The default is for development only:
    # outside development (PPFLOW_ENVIRONMENT) only a key made by `ppflow keygen` is
    # accepted by `ppflow check`, the portal, mail rendering and the flows' workers.
    signing_key: str = DEVELOPMENT_SIGNING_KEY
    signing_key_block: str | None = None  # or a Prefect Secret block holding it
    # Keys rotated out (PPFLOW_PORTAL__PREVIOUS_SIGNING_KEYS, separated by commas or
    # spaces, or a JSON list): they sign nothing new, but the links they signed open until
    # they expire.
    previous_signing_keys: Annotated[list[str], NoDecode] = Field(default_factory=list)
    link_days: int = 30

    @field_validator("previous_signing_keys", mode="before")
    @classmethod
    def _split_keys(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        text = value.strip()
        if text.startswith("["):
            try:
                return json.loads(text)
            except json.JSONDecodeError:
                raise ValueError("not a JSON list of keys") from None
        return [key for key in text.replace(",", " ").split() if key]


class CompensationSettings(BaseModel):
    """``PPFLOW_COMPENSATION__T4A_THRESHOLD`` and so on (amounts in CAD)."""

    t4a_threshold: float = 500.0
    budget_alert_ratio: float = 0.8
    fiscal_year_start_month: int = 4


# Days personal data is kept, by final state, unless the settings say otherwise.
RETENTION_DAYS: dict[str, int] = {
    AdvisorStage.DECLINED: 365,
    AdvisorStage.NOT_RETAINED: 365,
    AdvisorStage.WITHDRAWN: 30,
    AdvisorStage.ALUMNI: 7 * 365,
}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="PPFLOW_", env_nested_delimiter="__", extra="ignore"
    )

    data_dir: Path = Field(default_factory=_default_data_dir)
    database_url: str | None = None
    database_schema: str | None = None  # PostgreSQL only: keep ppflow's tables in this schema
    # The shipped templates unless PPFLOW_TEMPLATES_DIR names an organization's own copy.
    templates_dir: Path = Field(default_factory=resources.templates_dir)
    timezone: str = "America/Montreal"
    # The organization that sends the e-mails, named in the header of each one
    # (PPFLOW_ORGANIZATION_NAME, e.g. "CHU de Québec"; PPFLOW_ORGANIZATION_NAME_EN when its
    # English name differs). Unset, e-mails are headed by the partnership office.
    organization_name: str | None = None
    organization_name_en: str | None = None
    actor: str | None = None
    # The CLI's language (fr or en); unset, the locale's, else the organization's
    # (see interface_language).
    language: str | None = None
    # How long a flow waits for a person's decision, and how often a paused run looks.
    decision_timeout_hours: float = 24 * 28
    decision_poll_seconds: float = 1
    # `ppflow check` and `ppflow waiting`: a run Pending, Running or Cancelling longer than
    # this is named as stuck; `ppflow check` fails when the oldest message still to send
    # was queued longer ago than the second.
    stuck_run_minutes: float = 15
    outbox_age_limit_minutes: float = 15
    # Days a case may wait at a stage before the daily digest lists it (send-reminders).
    service_levels: dict[str, int] = Field(default_factory=dict)
    # Days personal data is kept once an advisor reaches a final state (apply-retention).
    retention_days: dict[str, int] = Field(default_factory=lambda: dict(RETENTION_DAYS))
    # Where respondents open their personal survey links (`ppflow portal`).
    portal_url: str = "http://127.0.0.1:8000"
    smtp: SmtpSettings = Field(default_factory=SmtpSettings)
    portal: PortalSettings = Field(default_factory=PortalSettings)
    compensation: CompensationSettings = Field(default_factory=CompensationSettings)
    environment: str = "development"  # "production" makes `ppflow check` strict

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Values given in code, then the environment, then the file PPFLOW_ENV_FILE names."""
        path = env_file()
        if path is None:
            return init_settings, env_settings
        from_file = DotEnvSettingsSource(settings_cls, env_file=path, env_file_encoding="utf-8")
        return init_settings, env_settings, from_file

    def organization_names(self) -> dict[str, str]:
        """The sending organization's name by language (none configured: empty)."""
        names = {}
        if self.organization_name and self.organization_name.strip():
            names = {"fr": self.organization_name.strip(), "en": self.organization_name.strip()}
        if self.organization_name_en and self.organization_name_en.strip():
            names["en"] = self.organization_name_en.strip()
        return names

    def interface_language(self, environ: Mapping[str, str] | None = None) -> str:
        """The language people read ppflow in: PPFLOW_LANGUAGE, else the locale's (the first
        of LC_ALL, LC_MESSAGES, LANG that is set: ``fr_CA.UTF-8`` is fr), else the
        organization's (PPFLOW_SMTP__DEFAULT_LANGUAGE: French unless set)."""
        if self.language:
            return self.language
        found = os.environ if environ is None else environ
        locale = next((found[v] for v in ("LC_ALL", "LC_MESSAGES", "LANG") if found.get(v)), "")
        code = locale.split(".")[0].split("@")[0].split("_")[0].lower()
        return code if code in LANGUAGES else self.smtp.default_language

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'ppflow.db'}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
