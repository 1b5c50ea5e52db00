"""Use cases of the survey portal and of the coordinator's response entry: open a survey,
record a response with its questionnaire version and scores, import responses from CSV,
and withdraw an advisor through their personal link.

Nothing waits on a survey yet: submitting records the response, and a flow that needs it
reads it from the database.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime

from ppflow.domain.commands import Meta
from ppflow.domain.errors import (
    ConcurrentUpdateError,
    DuplicateError,
    IllegalTransitionError,
    InvalidInputError,
    NotFoundError,
)
from ppflow.domain.lifecycle import ADVISOR_ENDED, AdvisorStage
from ppflow.services import advisors, feedback
from ppflow.services.csv_files import CsvFile, CsvRecord, read_csv
from ppflow.services.links import LinkError
from ppflow.services.ports import Clock, PendingSurvey, UnitOfWork
from ppflow.services.questionnaires import (
    LANGUAGES,
    AnswersError,
    Item,
    Questionnaire,
    QuestionnaireLibrary,
    Scores,
    clean_answers,
    score,
    unanswered,
)

DEFAULT_LANGUAGE = "fr"
WITHDRAWN = AdvisorStage.WITHDRAWN
# Why a survey request ended before it was answered (or after): its link then says so.
ENDED_WITHDRAWN = str(AdvisorStage.WITHDRAWN)  # the advisor withdrew (as withdraw_advisor says)
ERASED = "erased"  # the advisor's personal data was erased
CSV_MAX_BYTES = 5_000_000


@dataclass(frozen=True)
class SurveyForm:
    survey: PendingSurvey
    questionnaire: Questionnaire
    language: str
    team: str = ""  # the QI team's name, as the respondent knows it


class UnansweredError(InvalidInputError):
    """A response sent through the portal that leaves agreement items without an answer
    (neither a score nor "not applicable"). ``items`` are those items, ``total`` the
    agreement items of the questionnaire; ``nothing`` when the response has no answer at
    all, not even an open one. Except then, the respondent may send it as it is, once they
    have been told."""

    def __init__(self, items: tuple[Item, ...], total: int, nothing: bool = False):
        self.items, self.total, self.nothing = items, total, nothing
        super().__init__(
            "the response has no answer"
            if nothing
            else f"{len(items)} of {total} agreement items are not answered "
            f"({', '.join(i.id for i in items)})"
        )


@dataclass(frozen=True)
class RecordedResponse:
    engagement: str
    respondent: str
    questionnaire: str
    version: int
    scores: Scores
    missing: int = 0  # agreement items left unanswered (a partial answer)
    items: int = 0  # agreement items of the questionnaire
    opened_round: int | None = None  # the round opened to take these answers, if any


def _language(value: str | None) -> str:
    return value if value in LANGUAGES else DEFAULT_LANGUAGE


def _usable(survey: PendingSurvey | None) -> PendingSurvey:
    """The request a link names, if it still takes an answer. An unknown token is treated
    as a forged link; one whose advisor withdrew or was erased says so (whether answered
    or not); an answered one is a used link."""
    if survey is None:
        raise LinkError("forged")
    if survey.ended_because:
        raise LinkError(survey.ended_because)
    if survey.answered_at is not None:
        raise LinkError("used")
    return survey


def survey_language(uow: UnitOfWork, token: str) -> str:
    """The language of the person a survey link was sent to, for a page refusing it."""
    with uow:
        survey = uow.responses.by_token(token)
        return _language(uow.responses.language(survey) if survey else None)


def advisor_language(uow: UnitOfWork, advisor: str) -> str:
    """An advisor's language (kept after erasure), for a page refusing their link."""
    with uow:
        return _language(uow.responses.advisor_language(advisor))


def open_survey(uow: UnitOfWork, library: QuestionnaireLibrary, token: str) -> SurveyForm:
    """What a survey link opens, if it still takes an answer (see :func:`_usable`)."""
    with uow:
        survey = _usable(uow.responses.by_token(token))
        language = _language(uow.responses.language(survey))
        team = uow.teams.get(uow.engagements.get(survey.engagement).team).name
    return SurveyForm(survey, library.get(survey.questionnaire), language, team)


def _record(
    uow: UnitOfWork,
    library: QuestionnaireLibrary,
    survey: PendingSurvey,
    raw: Mapping[str, object],
    now: datetime,
) -> RecordedResponse | None:
    """Inside an open unit of work: validate and record; None if already answered."""
    questionnaire = library.get(survey.questionnaire)
    answers = clean_answers(questionnaire, raw)
    scores = score(questionnaire, answers)
    if not uow.responses.record(
        survey.token, answers, questionnaire.version, scores.overall, scores.by_theme, now
    ):
        return None
    scale = questionnaire.scale_items
    return RecordedResponse(
        survey.engagement,
        survey.respondent,
        questionnaire.name,
        questionnaire.version,
        scores,
        missing=sum(1 for i in scale if i.id not in answers),
        items=len(scale),
    )


def _check_sent(questionnaire: Questionnaire, raw: Mapping[str, object], partial: bool):
    """What a respondent sent: faults first, then the agreement items left unanswered."""
    try:
        answers = clean_answers(questionnaire, raw)
    except AnswersError as error:
        if [f.problem for f in error.faults] == ["empty"]:
            scale = questionnaire.scale_items
            raise UnansweredError(scale, len(scale), nothing=True) from None
        raise
    missing = unanswered(questionnaire, answers)
    if missing and not partial:
        raise UnansweredError(missing, len(questionnaire.scale_items))


def _check_complete(questionnaire: Questionnaire, answers: Mapping[str, object], partial: bool):
    """Answers entered by a coordinator answer every agreement item, unless they are
    declared partial (open questions may be left blank either way)."""
    missing = [i.id for i in unanswered(questionnaire, answers)]
    if missing and not partial:
        raise InvalidInputError(
            f"{len(missing)} of {len(questionnaire.scale_items)} agreement items are not "
            f"answered ({', '.join(missing)}); if the form came back so, record it as "
            "partial (--partial)"
        )


def submit_response(
    uow: UnitOfWork,
    library: QuestionnaireLibrary,
    token: str,
    raw: Mapping[str, object],
    clock: Clock,
    partial: bool = False,
) -> RecordedResponse:
    """Record what a respondent submitted through their link, once. Unless ``partial``
    (they chose to send it as it is), a response that leaves an agreement item without an
    answer is refused with UnansweredError; one with no answer at all always is."""
    with uow:
        survey = _usable(uow.responses.by_token(token))
        questionnaire = library.get(survey.questionnaire)
        _check_sent(questionnaire, raw, partial)
        recorded = _record(uow, library, survey, raw, clock.now())
        if recorded is None:
            # answered at the same moment through another tab, or ended meanwhile (the
            # advisor withdrew or was erased)
            uow.rollback()
            _usable(uow.responses.by_token(token))
            raise LinkError("used")
        uow.commit()
    return recorded


def record_response(
    uow: UnitOfWork,
    library: QuestionnaireLibrary,
    engagement: str,
    respondent: str,
    raw: Mapping[str, object],
    clock: Clock,
    round: int | None = None,
    partial: bool = False,
) -> RecordedResponse:
    """A coordinator enters one response (a paper form, a phone call). If no round is
    open for this respondent, the round due for the engagement is opened first. Every
    agreement item is answered, unless ``partial``."""
    now = clock.now()
    with uow:
        survey, opened = _find(uow, engagement, respondent, round, now)
        questionnaire = library.get(survey.questionnaire)
        _check_complete(questionnaire, clean_answers(questionnaire, raw), partial)
        recorded = _record(uow, library, survey, raw, now)
        if recorded is None:
            raise DuplicateError(_answered(survey))
        uow.commit()
    return replace(recorded, opened_round=opened)


def _find(
    uow: UnitOfWork,
    engagement: str,
    respondent: str,
    round: int | None,
    now: datetime,
    answered_by: frozenset[str] = frozenset(),
) -> tuple[PendingSurvey, int | None]:
    """The respondent's open questionnaire, and the round opened for it if there was none
    (answers collected on paper before the flow asked). A round named explicitly is one
    already opened: nothing is opened for it."""
    survey = uow.responses.latest(engagement, respondent, round)
    opened = None
    if round is None and (survey is None or survey.answered_at is not None):
        try:
            due = feedback.open_due_round(uow, engagement, respondent, now, answered_by)
        except InvalidInputError:
            if survey is None:
                raise
            raise DuplicateError(_answered(survey)) from None
        if survey is None or survey.round < due:
            opened = due
            survey = uow.responses.latest(engagement, respondent, None)
    if survey is None:
        which = f" round {round}" if round is not None else ""
        raise NotFoundError(f"questionnaire{which} for {respondent} on engagement", engagement)
    if survey.ended_because:
        why = "withdrew" if survey.ended_because == ENDED_WITHDRAWN else "was erased"
        raise InvalidInputError(
            f"{respondent} {why}: their questionnaires on engagement {engagement} take no answer"
        )
    if survey.answered_at is not None:
        raise DuplicateError(_answered(survey))
    return survey, opened


def _answered(survey: PendingSurvey) -> str:
    return (
        f"{survey.respondent} already answered round {survey.round} of engagement "
        f"{survey.engagement}; the first response stands"
    )


# ------------------------------------------------------------------------------ CSV import


@dataclass
class ImportReport:
    imported: list[RecordedResponse] = field(default_factory=list)
    errors: list[tuple[int, str]] = field(default_factory=list)  # (line, message)
    skipped: int = 0


def read_responses_csv(data: bytes) -> CsvFile:
    """The records of a response CSV (iterating the result gives them; it also says how
    the file was read). Columns: ``engagement``, ``respondent``, optionally ``round``,
    then one column per item id, matched whatever their case or spacing."""
    return read_csv(data, ("engagement", "respondent"), ("round",), max_bytes=CSV_MAX_BYTES)


def import_responses(
    uow: UnitOfWork,
    library: QuestionnaireLibrary,
    records: Iterable[CsvRecord],
    clock: Clock,
    skip_invalid: bool = False,
    partial: bool = False,
) -> ImportReport:
    """Check every row first; import nothing if one is bad, unless ``skip_invalid``, in
    which case the good rows go in and the bad ones are reported. One transaction. A row
    for an engagement with no round open for its respondent opens the round due (those
    answering in the file are not e-mailed); a row that leaves agreement items blank is
    bad unless ``partial``."""
    report = ImportReport()
    now = clock.now()
    records = list(records)
    with uow:
        planned, report.errors = _plan_import(uow, library, records, now, partial)
        if report.errors and not skip_invalid:
            return report
        if report.errors:
            # Checking may have opened rounds for the bad rows too: start again with the
            # good rows only, so that no round is opened for an answer left out.
            uow.rollback()
            bad = {line for line, _ in report.errors}
            good = [r for r in records if r.line not in bad]
            planned, again = _plan_import(uow, library, good, now, partial)
            report.errors += again
        report.skipped = len(report.errors)
        for survey, answers, opened in planned:
            recorded = _record(uow, library, survey, answers, now)
            if recorded is None:  # answered meanwhile by another coordinator
                raise DuplicateError(_answered(survey))
            report.imported.append(replace(recorded, opened_round=opened))
        uow.commit()
    return report


def _plan_import(
    uow: UnitOfWork,
    library: QuestionnaireLibrary,
    records: list[CsvRecord],
    now: datetime,
    partial: bool,
) -> tuple[list[tuple[PendingSurvey, dict, int | None]], list[tuple[int, str]]]:
    """Inside an open unit of work: each good row's questionnaire and answers, and each
    bad row's line and reason."""
    answering: dict[str, set[str]] = {}
    for record in records:
        values = record.values or {}
        answering.setdefault(values.get("engagement", ""), set()).add(values.get("respondent", ""))
    planned: list[tuple[PendingSurvey, dict, int | None]] = []
    errors: list[tuple[int, str]] = []
    seen: set[str] = set()
    for record in records:
        line, row = record.line, record.values
        try:
            if record.problem:
                raise InvalidInputError(record.problem)
            engagement, respondent = row.get("engagement", ""), row.get("respondent", "")
            if not engagement or not respondent:
                raise InvalidInputError("engagement and respondent are required")
            round_text = row.get("round", "")
            if round_text and not round_text.isdigit():
                raise InvalidInputError("round is a whole number")
            survey, opened = _find(
                uow,
                engagement,
                respondent,
                int(round_text) if round_text else None,
                now,
                frozenset(answering.get(engagement, ())),
            )
            if survey.token in seen:
                raise DuplicateError(f"{respondent} on {engagement} appears twice in the file")
            questionnaire = library.get(survey.questionnaire)
            known = {i.id for i in questionnaire.items}
            extra = [
                k
                for k, v in row.items()
                if k not in ("engagement", "respondent", "round") and k not in known and v
            ]
            if extra:
                raise InvalidInputError(
                    f"{', '.join(sorted(extra))} not in {questionnaire.name} "
                    f"v{questionnaire.version}"
                )
            answers = {k: v for k, v in row.items() if k in known}
            clean_answers(questionnaire, answers)
            _check_complete(questionnaire, answers, partial)
            seen.add(survey.token)
            planned.append((survey, answers, opened))
        except (InvalidInputError, NotFoundError, DuplicateError) as error:
            errors.append((line, str(error)))
    return planned, errors


# ------------------------------------------------------------------------------ withdrawal


@dataclass(frozen=True)
class WithdrawalPage:
    advisor: str
    language: str


def open_withdrawal(uow: UnitOfWork, advisor: str) -> WithdrawalPage:
    """What a withdrawal link opens. Once the advisor has withdrawn (through this link,
    another of their links or a coordinator), every withdrawal link of theirs is used; one
    whose participation ended otherwise (declined, not retained, alumni) is closed."""
    with uow:
        if not uow.advisors.exists(advisor):
            raise LinkError("forged")
        if uow.responses.advisor_erased(advisor):
            raise LinkError(ERASED)
        stage = uow.advisors.get(advisor).stage
        if stage == WITHDRAWN:
            raise LinkError("used")
        if stage in ADVISOR_ENDED:
            raise LinkError("closed")
        language = _language(uow.responses.advisor_language(advisor))
    return WithdrawalPage(advisor, language)


def withdraw_through_link(uow: UnitOfWork, advisor: str, clock: Clock) -> WithdrawalPage:
    """The advisor confirmed: withdraw them. A second confirmation, even one sent at the
    same moment from another tab, finds the link used and changes nothing."""
    page = open_withdrawal(uow, advisor)
    meta = Meta(actor="portal", reason="withdrew through the link")
    try:
        try:
            advisors.withdraw_advisor(uow, advisor, meta, clock)
        except ConcurrentUpdateError:
            open_withdrawal(uow, advisor)  # used, if that was another withdrawal
            advisors.withdraw_advisor(uow, advisor, meta, clock)  # else once more
    except IllegalTransitionError:
        open_withdrawal(uow, advisor)  # used, if withdrawn meanwhile
        raise LinkError("closed") from None
    return page


def withdrawn_among(uow: UnitOfWork, codes: Iterable[str]) -> set[str]:
    """Which of these advisor codes belong to advisors who have withdrawn, so that whatever
    still waits on them (a run paused on their screening, say) can end. Unknown codes are
    not withdrawn."""
    with uow:
        return {
            code
            for code in set(codes)
            if uow.advisors.exists(code) and uow.advisors.get(code).stage == WITHDRAWN
        }
