"""Hostile CSV files: oversized fields, wrong encodings, control characters, HTML and
script in names. Nothing crashes, every row is either imported or reported with its line,
and HTML that gets in comes out escaped in e-mails."""

from __future__ import annotations

import csv
import io

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from ppflow.adapters.orm import AdvisorRow
from ppflow.domain.commands import Meta
from ppflow.services import advisors
from ppflow.services.referral_import import CsvFormatError, import_referrals
from tests import factories

HOSTILE = st.one_of(
    st.text(max_size=40),
    st.sampled_from(
        [
            "<script>alert(1)</script>",
            '=HYPERLINK("x")',
            "Zoë\u0000",
            "\x1b[31m",
            "a" * 2500,
            "O'Brien & <Sons>",
            "\u202eevil",
            "\r\n",
            "",
        ]
    ),
)


def csv_bytes(rows: list[list[str]], encoding: str) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["first_name", "last_name", "email", "language", "referred_by"])
    writer.writerows(rows)
    return buffer.getvalue().encode(encoding, errors="replace")


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    rows=st.lists(
        st.tuples(
            HOSTILE,
            HOSTILE,
            st.one_of(HOSTILE, st.emails()),
            st.sampled_from(["fr", "en", "de", ""]),
            HOSTILE,
        ),
        max_size=8,
    ),
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "latin-1", "utf-16"]),
)
def test_hostile_files_never_crash_and_every_row_is_accounted_for(sqlite_app, rows, encoding):
    referrer = factories.staff(sqlite_app)
    data = csv_bytes([[a, b, c, d, referrer if e == "" else e] for a, b, c, d, e in rows], encoding)
    with sqlite_app.session_factory() as session:
        before = session.scalar(select(func.count()).select_from(AdvisorRow))
    try:
        report = import_referrals(
            sqlite_app.uow(), data, Meta("fuzz"), skip_invalid=True, clock=sqlite_app.clock
        )
    except CsvFormatError as error:
        assert "line" in str(error) or "header" in str(error)
        return
    with sqlite_app.session_factory() as session:
        after = session.scalar(select(func.count()).select_from(AdvisorRow))
    assert after - before == len(report.imported)
    assert len(report.imported) + len(report.bad_lines) <= report.rows
    assert all(p.line >= 2 for p in report.problems)


def test_html_in_a_name_is_escaped_in_the_invitation(mail_app, smtp_server):
    referrer = factories.staff(mail_app)
    data = csv_bytes(
        [
            [
                "<script>alert('x')</script>",
                "<b>Bold</b> & Co",
                "html.name@example.org",
                "en",
                referrer,
            ]
        ],
        "utf-8",
    )
    [code] = import_referrals(mail_app.uow(), data, Meta("fuzz"), clock=mail_app.clock).imported
    advisors.invite_advisor(mail_app.uow(), code, Meta("fuzz"), mail_app.clock)
    mail_app.dispatch_pending()
    [invitation] = [
        m for m in smtp_server.messages() if m.header("X-Ppflow-Template") == "invitation"
    ]
    assert "<script>" not in invitation.html and "<b>Bold</b>" not in invitation.html
    assert "&lt;script&gt;" in invitation.html or "&lt;b&gt;" in invitation.html
