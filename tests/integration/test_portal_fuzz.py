"""Portal inputs fuzzed: whatever a browser (or anyone) posts, the portal answers with a
page, never a server error, records at most one response, and echoes nothing unescaped."""

from __future__ import annotations

from urllib.parse import urlencode

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from ppflow.adapters.orm import SurveyRequestRow
from ppflow.adapters.portal_web import MAX_BODY
from tests.integration.portal_helpers import client_for, mailed_link, open_engagement

FIELDS = st.sampled_from(
    ["com_role", "open_improve", "lang", "respect_heard", "x" * 300, "<script>", ""]
)
VALUES = st.one_of(
    st.text(max_size=60),
    st.sampled_from(
        [
            "1",
            "5",
            "0",
            "6",
            "-1",
            "3.5",
            "<script>alert(1)</script>",
            "\x00\x07",
            "é" * 5000,
            "fr",
            "en",
            "de",
        ]
    ),
)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(form=st.dictionaries(FIELDS, VALUES, max_size=6))
def test_any_posted_form_gets_a_page_and_records_at_most_once(sqlite_app, form):
    if not hasattr(sqlite_app, "fuzz_link"):
        opened = open_engagement(sqlite_app)
        sqlite_app.fuzz_link = mailed_link(sqlite_app, opened.advisor)
    page = client_for(sqlite_app).post(sqlite_app.fuzz_link, data=form)
    size = len(urlencode(form).encode())
    expected = (413,) if size > MAX_BODY else (200, 400, 410)  # too large: never read
    assert page.status_code in expected, (page.status_code, size)
    assert "<script>alert" not in page.text and "<script><" not in page.text
    assert page.text.count("<script") <= 1  # none but the portal's own, allowed by its hash
    with sqlite_app.engine.connect() as connection:
        answered = connection.scalar(
            select(func.count()).where(SurveyRequestRow.answered_at.is_not(None))
        )
    assert answered <= 1
