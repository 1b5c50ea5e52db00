"""The survey portal: a small Starlette app serving the bilingual questionnaire form and the
withdrawal page behind signed personal links.

    GET  /s/<signed>   the questionnaire, in the respondent's language (``?lang=`` switches)
    POST /s/<signed>   records the response, then a thank-you page
    GET  /w/<signed>   asks the advisor to confirm their withdrawal
    POST /w/<signed>   withdraws them
    GET  /health       for the reverse proxy

Pages work without JavaScript, on a phone and with a keyboard alone. A forged, expired or
used link gets a page saying so (HTTP 403, 410 or 409) and changes nothing. A form over
64 kB is refused with 413 as soon as it passes the limit, without reading the rest. Logs
name no person and no link: only the kind of refusal.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qsl

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import Route

from ppflow.domain.errors import InvalidInputError
from ppflow.services import links
from ppflow.services.portal import (
    open_survey,
    open_withdrawal,
    submit_response,
    withdraw_through_link,
)
from ppflow.services.ports import Clock, UnitOfWork
from ppflow.services.questionnaires import LANGUAGES, QuestionnaireLibrary

log = logging.getLogger("ppflow.portal")
MAX_BODY = 64_000
STATUS = {"forged": 403, "expired": 410, "used": 410, "closed": 409}
HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
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
    return Environment(
        loader=FileSystemLoader(str(templates_dir)),
        autoescape=select_autoescape(["html"], default_for_string=True, default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def create_portal(
    uow: Callable[[], UnitOfWork],
    clock: Clock,
    signing_key: str,
    templates_dir: Path,
    library: QuestionnaireLibrary,
) -> Starlette:
    """Build the portal over a database (``uow`` gives a new unit of work), a clock and the
    signing key. Every use case runs in a worker thread: the database calls are synchronous,
    and the event loop keeps serving other requests meanwhile."""
    env = template_environment(templates_dir)

    def page(name: str, language: str, status: int = 200, **context) -> HTMLResponse:
        html = env.get_template(f"portal/{language}/{name}.html").render(lang=language, **context)
        return HTMLResponse(html, status_code=status, headers=HEADERS)

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
        return page(
            "form",
            language,
            status,
            q=form.questionnaire,
            sections=form.questionnaire.sections(),
            values=values or {},
            error=error,
            path=request.url.path,
        )

    async def survey(request: Request) -> Response:
        signed = request.path_params["signed"]
        try:
            token = opened(signed, links.SURVEY)
            form = await run_in_threadpool(open_survey, uow(), library, token)
        except links.LinkError as error:
            return refused(request, error)
        language = chosen(request, form.language)
        if request.method == "GET":
            return survey_page(request, form, language)
        try:
            values = await form_data(request)
        except BodyTooLargeError:
            return too_large(request, language)
        except InvalidInputError as error:
            return survey_page(request, form, language, 400, error=str(error))
        language = values.pop("lang", language)
        language = language if language in LANGUAGES else form.language
        try:
            await run_in_threadpool(submit_response, uow(), library, token, values, clock)
        except links.LinkError as error:
            return refused(request, error, language)
        except InvalidInputError as error:
            return survey_page(request, form, language, 400, values=values, error=str(error))
        log.info("portal response recorded for %s", form.questionnaire.name)
        return page("thanks", language, q=form.questionnaire)

    # ---------------------------------------------------------------------- withdrawal

    async def withdrawal(request: Request) -> Response:
        signed = request.path_params["signed"]
        try:
            advisor = opened(signed, links.WITHDRAWAL)
            found = await run_in_threadpool(open_withdrawal, uow(), advisor)
        except links.LinkError as error:
            return refused(request, error, kind=links.WITHDRAWAL)
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
