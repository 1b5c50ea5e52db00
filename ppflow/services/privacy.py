"""Rights and records under Law 25: an advisor's data, out in a structured format or
erased on request; and the register of confidentiality incidents."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from ppflow.domain.errors import InvalidInputError
from ppflow.services.ports import Clock, UnitOfWork

SEVERITIES = ("low", "moderate", "serious")
KEEP_YEARS = 5


@dataclass(frozen=True)
class RecordIncident:
    occurred_on: date
    circumstances: str
    data_concerned: str
    people_affected: int
    severity: str
    measures: str
    actor: str


def export_advisor(uow: UnitOfWork, code: str, clock: Clock) -> dict:
    with uow:  # reads only
        data = uow.privacy.export(code)
    return {"format": "ppflow-advisor-export/1", "exported_at": clock.now().isoformat(), **data}


def erase_advisor(uow: UnitOfWork, code: str, clock: Clock, actor: str = "system") -> int:
    """Erase on request: names, addresses, phone, free-text context and reasons, survey
    answers, the contents of their mail (the sink's copies too), notes on their pay go;
    the code, the stages and the aggregates stay, and the erasure itself is recorded (who,
    when, what). Returns the unsent e-mails cancelled."""
    with uow:
        cancelled = uow.privacy.erase(code, clock.now(), actor)
        uow.commit()
    return cancelled


def record_incident(uow: UnitOfWork, cmd: RecordIncident, clock: Clock) -> int:
    problems = []
    if cmd.severity not in SEVERITIES:
        problems.append(f"severity '{cmd.severity}' is not one of {', '.join(SEVERITIES)}")
    if cmd.people_affected < 0:
        problems.append("people affected cannot be negative")
    for name in ("circumstances", "data_concerned", "measures"):
        if not getattr(cmd, name).strip():
            problems.append(f"{name.replace('_', ' ')} must be described")
    now = clock.now()
    if cmd.occurred_on > now.date():
        problems.append("the incident cannot have happened in the future")
    if problems:
        raise InvalidInputError("; ".join(problems))
    keep = (
        cmd.occurred_on.replace(year=cmd.occurred_on.year + KEEP_YEARS)
        if not (cmd.occurred_on.month == 2 and cmd.occurred_on.day == 29)
        else date(cmd.occurred_on.year + KEEP_YEARS, 3, 1)
    )
    with uow:
        number = uow.privacy.add_incident(
            {
                "occurred_on": cmd.occurred_on,
                "circumstances": cmd.circumstances.strip(),
                "data_concerned": cmd.data_concerned.strip(),
                "people_affected": cmd.people_affected,
                "severity": cmd.severity,
                "measures": cmd.measures.strip(),
                "recorded_at": now,
                "recorded_by": cmd.actor,
                "keep_until": keep,
            }
        )
        uow.commit()
    return number


def list_incidents(uow: UnitOfWork, since: date | None = None) -> list[dict]:
    """The register of incidents, oldest first (from ``since`` if given)."""
    with uow:  # reads only
        return uow.privacy.incidents(since)
