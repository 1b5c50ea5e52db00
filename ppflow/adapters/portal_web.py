"""The survey portal: a small Starlette app serving the bilingual questionnaire form and the
withdrawal page behind signed personal links.

    GET  /s/<signed>   the questionnaire, in the respondent's language (``?lang=`` switches)
    POST /s/<signed>   records the response, then a thank-you page
    GET  /w/<signed>   asks the advisor to confirm their withdrawal
    POST /w/<signed>   withdraws them
    GET  /health       for the reverse proxy

Pages work without JavaScript, on a phone and with a keyboard alone. The questionnaire
names the QI team, is grouped in numbered sections (one per theme, open questions last),
and says how many statements are answered: the portal writes the count, and its one
script (``portal/tally.js``, the only one the page's policy allows, by its hash) keeps it
current as the person goes. A response that leaves statements unanswered comes back with
the questions named (their text, in the page's language) and every answer kept, and the
person may then send it as it is. A forged, expired or used link gets a page saying so
(HTTP 403, 410 or 409) and changes nothing; so does every link of an advisor who has
withdrawn or whose data was erased (410, saying which, in the person's language). A form
over 64 kB is refused with 413 as soon as it passes the limit, without reading the rest.
Logs name no person and no link: only the kind of refusal.

The texts the form pages share (the team line, sections, "not applicable", the error
messages) are in the wording catalogue ``wording/portal.yaml``; the pages are
``portal/*.html``, one for every language, their sentences in ``_()`` translated by the
gettext catalogue (``ppflow.adapters.catalogue``). :func:`check_portal_templates`
renders every page in every language with sample data, for ``ppflow templates check``.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl

from jinja2 import (
    Environment,
    FileSystemLoader,
    StrictUndefined,
    TemplateNotFound,
    UndefinedError,
    select_autoescape,
)
from markupsafe import Markup
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import Route

from ppflow.adapters.catalogue import CatalogueError, install, load_translations
from ppflow.adapters.email.rendering import TemplateCheck
from ppflow.domain.errors import InvalidInputError
from ppflow.services import links
from ppflow.services.portal import (
    UnansweredError,
    advisor_language,
    open_survey,
    open_withdrawal,
    submit_response,
    survey_language,
    withdraw_through_link,
)
from ppflow.services.ports import Clock, UnitOfWork
from ppflow.services.questionnaires import (
    LANGUAGES,
    NOT_APPLICABLE,
    NOT_APPLICABLE_SPELLINGS,
    OPEN_ANSWER_MAX,
    SCALE_POINTS,
    AnswerFault,
    AnswersError,
    Questionnaire,
    QuestionnaireLibrary,
    parse,
)
from ppflow.services.wording import Wording, WordingError, format_number, template_filters

log = logging.getLogger("ppflow.portal")
MAX_BODY = 64_000
STATUS = {
    "forged": 403,
    "expired": 410,
    "used": 410,
    "closed": 409,
    "withdrawn": 410,  # the advisor withdrew: their survey links take no answer
    "erased": 410,  # the advisor's data was erased: none of their links opens anything
}
TALLY_SCRIPT = "portal/tally.js"  # the one script a page runs, by its hash


def headers(script_hashes: Iterable[str] = ()) -> dict[str, str]:
    """Every page's headers. The only script allowed is the portal's own, by its hash."""
    scripts = " ".join(f"'{h}'" for h in script_hashes) or "'none'"
    return {
        "Content-Security-Policy": (
            f"default-src 'none'; style-src 'unsafe-inline'; script-src {scripts}; "
            "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
        ),
        "Referrer-Policy": "no-referrer",  # the page's address is a personal link
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Cache-Control": "no-store",
    }


class BodyTooLargeError(InvalidInputError):
    """A form over :data:`MAX_BODY` bytes; the rest of it is never read."""


async def limited_body(request: Request, limit: int = MAX_BODY) -> bytes:
    """The request's body, refused as soon as it passes ``limit``: at once when its declared
    Content-Length is over, otherwise (a chunked body, or one longer than declared) at the
    chunk that passes it. What has not been read stays unread; the server then closes the
    connection, so a 1 GB upload costs the portal one chunk of memory, not 1 GB."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise BodyTooLargeError("the form is too large")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLargeError("the form is too large")
        chunks.append(chunk)
    return b"".join(chunks)


def template_environment(templates_dir: Path) -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(templates_dir)),
        autoescape=select_autoescape(["html"], default_for_string=True, default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(template_filters())
    install(env, load_translations(templates_dir))  # _() speaks the page's ``lang``
    return env


@dataclass(frozen=True)
class Problem:
    """One thing to tell the respondent about what they sent, in their language."""

    text: str
    anchor: str | None = None  # the id of the question it names, to link to


@dataclass(frozen=True)
class Problems:
    intro: str = ""
    items: tuple[Problem, ...] = ()
    unanswered: frozenset[str] = frozenset()  # item ids marked "not answered yet"
    send_anyway: bool = False  # the response may be sent as it is

    def __bool__(self) -> bool:
        return bool(self.intro or self.items)


class PortalPages:
    """Every page of the portal, from ``portal/``, the gettext and wording catalogues of one
    templates directory. The web app and :func:`check_portal_templates` render through it."""

    def __init__(self, templates_dir: Path):
        self.env = template_environment(templates_dir)
        self.wording = Wording.from_directory(templates_dir)
        self.env.globals["text"] = self.text
        try:
            script = (Path(templates_dir) / TALLY_SCRIPT).read_text(encoding="utf-8")
        except OSError:
            raise TemplateNotFound(TALLY_SCRIPT) from None
        self.tally_script = Markup(script)  # inlined as it is, so its hash matches
        digest = hashlib.sha256(script.encode("utf-8")).digest()
        self.headers = headers(["sha256-" + base64.b64encode(digest).decode("ascii")])

    def text(self, key: str, language: str, /, **values) -> str:
        return self.wording.text(key, language, **values)

    def render(self, name: str, language: str, **context) -> str:
        template = self.env.get_template(f"portal/{name}.html")
        return template.render(lang=language, **context)

    def form(
        self,
        language: str,
        path: str,
        questionnaire: Questionnaire,
        team: str,
        values: dict[str, str] | None = None,
        error: InvalidInputError | None = None,
    ) -> str:
        values = dict(values or {})
        for key, value in values.items():  # "NA", "n/a" are the not-applicable answer
            if value.strip().lower() in NOT_APPLICABLE_SPELLINGS:
                values[key] = NOT_APPLICABLE
        answerable = {str(n) for n in range(1, SCALE_POINTS + 1)}
        answered = sum(
            1
            for i in questionnaire.scale_items
            if values.get(i.id) in answerable
            or (i.not_applicable and values.get(i.id) == NOT_APPLICABLE)
        )
        return self.render(
            "form",
            language,
            q=questionnaire,
            team=team,
            sections=questionnaire.sections(),
            values=values,
            answered=answered,
            tally_script=self.tally_script,
            problems=self.problems(error, questionnaire, language),
            path=path,
        )

    def problems(
        self, error: InvalidInputError | None, questionnaire: Questionnaire, language: str
    ) -> Problems:
        """What was wrong with a response, each question named by its text."""
        if error is None:
            return Problems()

        def text(key: str, **values) -> str:
            return self.text(f"portal.errors.{key}", language, **values)

        if isinstance(error, UnansweredError):
            marked = frozenset(i.id for i in error.items)
            if error.nothing:
                first = questionnaire.scale_items[0]
                problem = Problem(text("nothing", question=first.text[language]), f"f-{first.id}")
                return Problems(items=(problem,), unanswered=marked)
            if len(error.items) == 1:
                intro = text("unanswered_one", total=error.total)
            else:
                intro = text("unanswered", count=len(error.items), total=error.total)
            missing = tuple(Problem(i.text[language], f"f-{i.id}") for i in error.items)
            return Problems(intro, missing, marked, send_anyway=True)
        if isinstance(error, AnswersError):
            listed: list[Problem] = []
            for fault in error.faults:
                problem = self._fault(fault, language)
                if problem not in listed:
                    listed.append(problem)
            return Problems(items=tuple(listed))
        return Problems(items=(Problem(text("unreadable")),))

    def _fault(self, fault: AnswerFault, language: str) -> Problem:
        key = f"portal.errors.{fault.problem}"
        if fault.item is None:  # an unknown item (a form that was altered): no id shown
            return Problem(self.text("portal.errors.unknown", language))
        question = fault.item.text[language]
        if fault.problem == "too_long":
            limit = format_number(OPEN_ANSWER_MAX, language)
            text = self.text(key, language, question=question, limit=limit)
            return Problem(text, f"a-{fault.item.id}")  # the text box itself
        return Problem(self.text(key, language, question=question), f"f-{fault.item.id}")


def create_portal(
    uow: Callable[[], UnitOfWork],
    clock: Clock,
    signing_key: str | Iterable[str],
    templates_dir: Path,
    library: QuestionnaireLibrary,
) -> Starlette:
    """Build the portal over a database (``uow`` gives a new unit of work), a clock and the
    signing key (or keys: the current one first, as :class:`links.SigningKeys`). Every use
    case runs in a worker thread: the database calls are synchronous, and the event loop
    keeps serving other requests meanwhile."""
    pages = PortalPages(templates_dir)

    def page(name: str, language: str, status: int = 200, **context) -> HTMLResponse:
        return HTMLResponse(pages.render(name, language, **context), status, headers=pages.headers)

    def chosen(request: Request, default: str) -> str:
        asked = request.query_params.get("lang")
        return asked if asked in LANGUAGES else default

    def refused(
        request: Request, error: links.LinkError, language: str | None = None, kind=links.SURVEY
    ):
        log.info("portal link refused: %s", error.reason)
        language = language or chosen(request, "fr")
        return page(
            "link_error",
            language,
            STATUS[error.reason],
            reason=error.reason,
            kind=kind,
            path=request.url.path,
        )

    async def form_data(request: Request) -> dict[str, str]:
        body = await limited_body(request)
        try:
            pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=200)
        except (UnicodeDecodeError, ValueError):
            raise InvalidInputError("the form could not be read") from None
        return dict(pairs)

    def too_large(request: Request, language: str) -> HTMLResponse:
        log.info("portal form refused: over %d bytes", MAX_BODY)
        return page("too_large", language, 413, path=request.url.path)

    def opened(signed: str, kind: str) -> str:
        return links.verify(signing_key, kind, signed, clock.now()).subject

    # ------------------------------------------------------------------- questionnaire

    def survey_page(request, form, language, status=200, values=None, error=None):
        html = pages.form(language, request.url.path, form.questionnaire, form.team, values, error)
        return HTMLResponse(html, status, headers=pages.headers)

    async def survey(request: Request) -> Response:
        signed = request.path_params["signed"]
        try:
            token = opened(signed, links.SURVEY)
        except links.LinkError as error:
            return refused(request, error)
        try:
            form = await run_in_threadpool(open_survey, uow(), library, token)
        except links.LinkError as error:  # a genuine link: refused in its person's language
            language = await run_in_threadpool(survey_language, uow(), token)
            return refused(request, error, chosen(request, language))
        language = chosen(request, form.language)
        if request.method == "GET":
            return survey_page(request, form, language)
        try:
            values = await form_data(request)
        except BodyTooLargeError:
            return too_large(request, language)
        except InvalidInputError as error:
            return survey_page(request, form, language, 400, error=error)
        language = values.pop("lang", language)
        language = language if language in LANGUAGES else form.language
        partial = values.pop("partial", "") == "yes"  # "send my answers as they are"
        try:
            await run_in_threadpool(submit_response, uow(), library, token, values, clock, partial)
        except links.LinkError as error:
            return refused(request, error, language)
        except InvalidInputError as error:
            return survey_page(request, form, language, 400, values=values, error=error)
        log.info("portal response recorded for %s", form.questionnaire.name)
        return page("thanks", language, q=form.questionnaire, team=form.team)

    # ---------------------------------------------------------------------- withdrawal

    async def withdrawal(request: Request) -> Response:
        signed = request.path_params["signed"]
        try:
            advisor = opened(signed, links.WITHDRAWAL)
        except links.LinkError as error:
            return refused(request, error, kind=links.WITHDRAWAL)
        try:
            found = await run_in_threadpool(open_withdrawal, uow(), advisor)
        except links.LinkError as error:
            language = chosen(request, await run_in_threadpool(advisor_language, uow(), advisor))
            return refused(request, error, language, links.WITHDRAWAL)
        language = chosen(request, found.language)
        if request.method == "GET":
            return page("withdraw", language, path=request.url.path)
        try:
            values = await form_data(request)
        except BodyTooLargeError:
            return too_large(request, language)
        except InvalidInputError:
            values = {}
        language = values.get("lang", language)
        language = language if language in LANGUAGES else found.language
        if values.get("confirm") != "yes":
            return page("withdraw", language, 400, path=request.url.path)
        try:
            await run_in_threadpool(withdraw_through_link, uow(), advisor, clock)
        except links.LinkError as error:
            return refused(request, error, language, links.WITHDRAWAL)
        log.info("portal withdrawal recorded")
        return page("withdrawn", language)

    async def health(_request: Request) -> Response:
        return PlainTextResponse("ok")

    return Starlette(
        routes=[
            Route("/s/{signed}", survey, methods=["GET", "POST"]),
            Route("/w/{signed}", withdrawal, methods=["GET", "POST"]),
            Route("/health", health),
        ]
    )


# ------------------------------------------------------------------ templates check

_SAMPLE_TEXT = {"fr": "Énoncé d'exemple", "en": "Sample statement"}
SAMPLE_QUESTIONNAIRE = parse(
    {
        "name": "portal-sample",
        "version": 1,
        "title": {"fr": "Questionnaire d'exemple", "en": "Sample questionnaire"},
        "intro": {"fr": "Une introduction.", "en": "An introduction."},
        "scale": {lang: [f"{lang} {n}" for n in range(1, 6)] for lang in LANGUAGES},
        "themes": [
            {"id": "respect", "title": {"fr": "Respect", "en": "Respect"}},
            {"id": "influence", "title": {"fr": "Influence", "en": "Influence"}},
        ],
        "items": [
            {"id": "heard", "theme": "respect", "type": "scale", "text": _SAMPLE_TEXT},
            {
                "id": "paid",
                "theme": "influence",
                "type": "scale",
                "not_applicable": True,
                "text": _SAMPLE_TEXT,
            },
            {"id": "comments", "type": "open", "text": _SAMPLE_TEXT},
        ],
    },
    "the portal's sample questionnaire",
)
_PLACEHOLDER = re.compile(r"\{[a-z_]+\}")


def _sample_errors(q: Questionnaire) -> dict[str, InvalidInputError | None]:
    heard, paid, comments = q.items
    return {
        "": None,
        "unanswered statements": UnansweredError((heard, paid), 2),
        "one unanswered statement": UnansweredError((paid,), 2),
        "no answer": UnansweredError(q.scale_items, 2, nothing=True),
        "refused answers": AnswersError(
            [
                AnswerFault("scale", heard, ""),
                AnswerFault("not_applicable", heard, ""),
                AnswerFault("too_long", comments, ""),
                AnswerFault("unknown", None, ""),
            ]
        ),
        "unreadable form": InvalidInputError("the form could not be read"),
    }


def _sample_pages(pages: PortalPages) -> list[tuple[str, str, str, Callable[[str], str]]]:
    """(page, case, audience, render(language)) of every page the portal serves."""
    q, team, path = SAMPLE_QUESTIONNAIRE, "Soins à domicile", "/s/sample"
    values = {"heard": "4", "paid": NOT_APPLICABLE, "comments": "Merci"}

    def form(error: InvalidInputError | None) -> Callable[[str], str]:
        return lambda lang: pages.form(lang, path, q, team, values, error)

    def link_error(reason: str, kind: str) -> Callable[[str], str]:
        return lambda lang: pages.render("link_error", lang, reason=reason, kind=kind, path=path)

    cases: list[tuple[str, str, str, Callable[[str], str]]] = [
        ("form", case, "respondent", form(error)) for case, error in _sample_errors(q).items()
    ]
    cases.append(
        ("thanks", "", "respondent", lambda lang: pages.render("thanks", lang, q=q, team=team))
    )
    for reason, kind in [
        ("forged", links.SURVEY),
        ("expired", links.SURVEY),
        ("used", links.SURVEY),
        ("withdrawn", links.SURVEY),
        ("erased", links.SURVEY),
        ("used", links.WITHDRAWAL),
        ("closed", links.WITHDRAWAL),
        ("erased", links.WITHDRAWAL),
    ]:
        survey = kind == links.SURVEY
        cases.append(
            (
                "link_error",
                f"{reason}, {'survey' if survey else 'withdrawal'} link",
                "respondent" if survey else "advisor",
                link_error(reason, kind),
            )
        )
    cases += [
        ("too_large", "", "respondent", lambda lang: pages.render("too_large", lang, path=path)),
        ("withdraw", "", "advisor", lambda lang: pages.render("withdraw", lang, path=path)),
        ("withdrawn", "", "advisor", lambda lang: pages.render("withdrawn", lang)),
    ]
    return cases


def _page_problems(language: str, render: Callable[[str], str]) -> tuple[str, ...]:
    try:
        html = render(language)
    except TemplateNotFound as missing:
        return (f"missing template {missing.name}",)
    except (WordingError, UndefinedError, KeyError) as error:
        return (f"missing text or variable: {error}",)
    problems = []
    if f'<html lang="{language}">' not in html:
        problems.append(f'the page does not say <html lang="{language}">')
    problems += [
        f"placeholder {found} left unfilled" for found in sorted(set(_PLACEHOLDER.findall(html)))
    ]
    return tuple(problems)


def check_portal_templates(
    templates_dir: Path, languages: Iterable[str] = LANGUAGES
) -> list[TemplateCheck]:
    """Render every page of the portal in every language with sample data: the
    questionnaire (blank, and with each kind of error), the thank-you page, each refused
    link, the too-large form and the withdrawal pages. Reports a missing template, a text
    missing from the wording catalogue, a variable the page lacks, and a placeholder left
    unfilled."""
    try:
        pages = PortalPages(Path(templates_dir))
    except (WordingError, CatalogueError) as error:
        return [TemplateCheck("portal", "-", "respondent", (str(error),))]
    except TemplateNotFound as missing:
        return [TemplateCheck("portal", "-", "respondent", (f"missing template {missing}",))]
    return [
        TemplateCheck(
            f"portal/{name}" + (f" ({case})" if case else ""),
            language,
            audience,
            _page_problems(language, render),
        )
        for language in languages
        for name, case, audience, render in _sample_pages(pages)
    ]
