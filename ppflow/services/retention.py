"""Retention: personal data is erased once an advisor has been in a final state longer
than that state's period. The pseudonymous history (codes, transitions, aggregates) stays,
so the indicators stay right. Unsent mail to an erased person is cancelled."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from ppflow.domain.lifecycle import ADVISOR_ENDED
from ppflow.services.ports import Clock, UnitOfWork


@dataclass
class RetentionReport:
    erased: dict[str, int]
    cancelled: int

    @property
    def total(self) -> int:
        return sum(self.erased.values())


def apply_retention(uow: UnitOfWork, periods: dict[str, int], clock: Clock) -> RetentionReport:
    """Erase, in one transaction, the people past each final state's period."""
    unknown = set(periods) - ADVISOR_ENDED
    if unknown:
        raise ValueError(
            f"retention is set per closed or final state; {', '.join(sorted(unknown))} "
            f"is not one of {', '.join(sorted(ADVISOR_ENDED))}"
        )
    now = clock.now()
    erased, cancelled = {}, 0
    with uow:
        for stage, days in sorted(periods.items()):
            people, mail = uow.retention.erase_final_before(stage, now - timedelta(days=days), now)
            erased[stage] = people
            cancelled += mail
        uow.commit()
    return RetentionReport(erased, cancelled)
