"""Bulk seeding of a large pool with SQLAlchemy Core, for sweep tests and benchmarks.
The rows are what the use cases would have written (advisor, contact, transitions), only
written in batches."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta

from sqlalchemy import insert, select

from ppflow.adapters.orm import AdvisorRow, ContactRow, StaffRow, TransitionRow
from ppflow.services.queries import search_text

STAGES = ("identified", "invited", "preparing", "screening", "recruited")
BATCH = 5000


def seed_pool(app, count: int, now: datetime, prefix: str = "B") -> None:
    """``count`` advisors spread over early stages, most of them stalled for a while."""
    numbers = itertools.count()
    with app.engine.begin() as connection:
        if connection.scalar(select(StaffRow.id).where(StaffRow.role == "coordinator")) is None:
            connection.execute(
                insert(StaffRow),
                [
                    {
                        "code": f"ST-{prefix}COORD",
                        "name": "Coordinator",
                        "role": "coordinator",
                        "email": f"coordinator-{prefix.lower()}@example.org",
                        "department": "PP",
                    }
                ],
            )
        start = connection.scalar(select(AdvisorRow.id).order_by(AdvisorRow.id.desc())) or 0
        for offset in range(0, count, BATCH):
            size = min(BATCH, count - offset)
            advisors, contacts, transitions = [], [], []
            for _ in range(size):
                n = next(numbers)
                code = f"PA-{prefix}{n:05d}"[:16]
                stage = STAGES[n % len(STAGES)]
                since = now - timedelta(days=(n * 7) % 60)
                advisors.append(
                    {
                        "code": code,
                        "stage": stage,
                        "stage_changed_at": since,
                        "languages": ["fr"],
                        "tags": ["cancer"],
                        "skills": [],
                        "availability_hours": 4,
                        "version": 1,
                    }
                )
                transitions.append(
                    {
                        "entity": "advisor",
                        "code": code,
                        "from_state": None,
                        "to_state": "identified",
                        "at": since,
                        "actor": "seed",
                    }
                )
            connection.execute(insert(AdvisorRow), advisors)
            first = start + offset + 1
            for i, advisor in enumerate(advisors):
                email = f"{advisor['code'].lower()}@example.org"
                contacts.append(
                    {
                        "advisor_id": first + i,
                        "first_name": "Test",
                        "last_name": advisor["code"],
                        "language": "fr",
                        "email": email,
                        "phone": "",
                        "context": "",
                        "search_text": search_text("Test", advisor["code"], email),
                    }
                )
            connection.execute(insert(ContactRow), contacts)
            connection.execute(insert(TransitionRow), transitions)
