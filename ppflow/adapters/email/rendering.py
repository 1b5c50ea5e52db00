"""E-mail rendering with Jinja2, and the check that every template renders.

Layout of ``templates/``::

    email/layout.html              the shared HTML layout
    email/_withdrawal.{txt,html}   the withdrawal footer of every advisor e-mail
    email/_footer.{txt,html}       the signature of every e-mail
    email/_header.txt              the sending organization, atop every text part
    email/<name>.subject.txt       one line
    email/<name>.txt               the plain-text part
    email/<name>.html              the HTML part (extends the layout)
    locale/                        the gettext catalogue (see ppflow.adapters.catalogue)

One template per e-mail serves every language: its text is English in ``_()`` and
``ngettext()``, translated by the catalogue of the context's ``lang``.

HTML is autoescaped and every undefined variable is an error (StrictUndefined). Dates,
money and shares go through the locale filters (``{{ due_date | date(lang) }}``; ISO
strings as the outbox keeps them are read as dates). French parts get French typography
after rendering (a non-breaking space before ":" and inside guillemets), in the subject,
the text and the HTML's text, never inside a URL or a tag.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, cast

from jinja2 import (
    Environment,
    FileSystemLoader,
    StrictUndefined,
    Template,
    TemplateNotFound,
    UndefinedError,
    select_autoescape,
)

from ppflow.adapters.catalogue import (
    CatalogueError,
    check_catalogues,
    install,
    load_translations,
    untranslated_text,
)
from ppflow.domain.model import LANGUAGES
from ppflow.services.links import survey_url, withdrawal_url
from ppflow.services.notifications import NOTIFICATIONS, sample_people, template_context
from ppflow.services.ports import Clock, FixedClock, Person, RenderedEmail
from ppflow.services.sweeps import digest_line, digest_texts
from ppflow.services.wording import (
    Wording,
    WordingError,
    check_wording,
    format_date,
    format_money,
    template_filters,
    typeset,
)

ROOT = "email"
# What the templates check signs its sample links with.
SAMPLE_PORTAL_URL = "https://portal.example"
SAMPLE_KEY = "sample-key-for-the-templates-check"
SAMPLE_MOMENT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # when the sample e-mails are "sent"
PARTS = {"subject": ".subject.txt", "text": ".txt", "html": ".html"}
# Internal codes a subject must not carry (subjects show in inboxes, lists and logs, and
# mean nothing to the reader): advisors, staff, engagements, teams, surveys.
INTERNAL_CODE = re.compile(r"\b(?:PA|ST|EN|QT|SV)-[0-9A-Z]{4,}\b")


def _as_date(value: Any) -> Any:
    """An ISO date string (as contexts keep dates) as a date; anything else unchanged."""
    if isinstance(value, str):
        try:
            return date.fromisoformat(value[:10]) if len(value) >= 10 else value
        except ValueError:
            return value
    return value


def _date(value: Any, language: str, form: str = "long") -> str:
    found = _as_date(value)
    if isinstance(found, date | datetime) or found is None:
        return format_date(found, language, form)
    return str(found)  # not a date: shown as it is rather than failing the e-mail


def _money(value: Any, language: str, currency: str = "CAD") -> str:
    """Money from a number or a decimal string ("8012.50", as contexts keep amounts)."""
    if isinstance(value, str):
        try:
            value = Decimal(value)
        except InvalidOperation:
            return value
    return format_money(value, language, currency)


def other_language(language: str) -> str:
    """The language an e-mail offers beside its own (fr <-> en)."""
    others = [lang for lang in LANGUAGES if lang != language]
    return others[0] if others else language


def in_language(url: str, language: str) -> str:
    """A portal link that opens in ``language`` (the portal reads ``?lang=``)."""
    return f"{url}{'&' if '?' in url else '?'}lang={language}"


def make_environment(
    templates_dir: Path, organization_names: Mapping[str, str] | None = None
) -> Environment:
    """Build the Jinja2 environment (called by the bootstrap, never at import), with the
    locale filters, the wording catalogues (``wording.stage(kind, stage, lang)``), the
    sending organization (``organization(lang)``: ``organization_names`` by language,
    from PPFLOW_ORGANIZATION_NAME, else the catalogue's ``email.organization``), a digest
    case in words (``digest_line(item, lang)``) and the other language's link
    (``survey_url | in_language(other_language(lang))``)."""
    environment = Environment(
        loader=FileSystemLoader(str(templates_dir)),
        autoescape=select_autoescape(enabled_extensions=("html",), default=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        auto_reload=False,
    )
    translations = load_translations(templates_dir)
    install(environment, translations)
    environment.filters.update(template_filters())
    environment.filters.update(date=_date, money=_money, in_language=in_language)
    wording = Wording.from_directory(templates_dir)
    names = dict(organization_names or {})

    def organization(language: str) -> str:
        return names.get(language) or wording.text("email.organization", language)

    environment.globals.update(
        wording=wording,
        organization=organization,
        digest_line=lambda item, language: digest_line(item, language, wording),
        other_language=other_language,
    )
    return environment


# Tags, and what is not prose: style sheets, scripts, and code (commands, server replies).
_TEXT_NODE = re.compile(r"(<(style|script|code)\b.*?</\2>|<[^>]*>)", re.S | re.I)
# What typeset changes: text without any of these comes back as it is.
_TYPESET = re.compile(r"[:»«;!?]")


def typeset_html(html: str, language: str) -> str:
    """:func:`typeset` on the text between tags only (tags, attributes, style sheets and
    ``<code>`` are left as they are)."""
    if language != "fr":
        return html
    pieces = _TEXT_NODE.split(html)  # text, tag, the tag's name (or None), text, ...
    for i in range(0, len(pieces), 3):
        if _TYPESET.search(pieces[i]):  # most text nodes have nothing to typeset
            pieces[i] = typeset(pieces[i], language)
    del pieces[2::3]  # the tags' names
    return "".join(pieces)


def finish(part: str, body: str, language: str) -> str:
    """A rendered part with the typography of its language."""
    return typeset_html(body, language) if part == "html" else typeset(body, language)


def template_path(name: str, part: str) -> str:
    return f"{ROOT}/{name}{PARTS[part]}"


class JinjaRenderer:
    def __init__(self, environment: Environment):
        self.environment = environment
        self._parts: dict[str, tuple[Template, Template, Template]] = {}

    @classmethod
    def from_directory(
        cls, templates_dir: Path, organization_names: Mapping[str, str] | None = None
    ) -> JinjaRenderer:
        return cls(make_environment(templates_dir, organization_names))

    def _templates(self, template: str) -> tuple[Template, Template, Template]:
        found = self._parts.get(template)
        if found is None:
            get = self.environment.get_template
            found = (
                get(template_path(template, "subject")),
                get(template_path(template, "text")),
                get(template_path(template, "html")),
            )
            self._parts[template] = found
        return found

    def render(self, template: str, language: str, context: Mapping[str, Any]) -> RenderedEmail:
        """``template`` in ``language`` (the context's ``lang`` is that language)."""
        subject_template, text_template, html_template = self._templates(template)
        context = {**context, "lang": language}
        # always one line (split() also takes non-breaking spaces, so they come after)
        subject = finish("subject", " ".join(subject_template.render(context).split()), language)
        values = {**context, "subject": subject}
        return RenderedEmail(
            subject=subject,
            text=finish("text", text_template.render(values), language),
            html=finish("html", html_template.render(values), language),
        )


class PersonalLinks:
    """Puts the personal, signed links into an e-mail when it is rendered, so that they
    are fresh when it is sent and the outbox never holds one: an advisor's withdrawal link
    (the footer shows it) and, from a ``survey_token`` in the context, the survey link
    (``survey_url``). They are signed with ``key``, the current signing key."""

    def __init__(
        self, inner: JinjaRenderer, portal_url: str, key: str, link_days: int, clock: Clock
    ):
        self.inner = inner
        self.portal_url = portal_url
        self.key = key
        self.link_days = link_days
        self.clock = clock

    def with_links(self, context: Mapping[str, Any]) -> Mapping[str, Any]:
        """``context`` with the links its e-mail carries, signed now."""
        now = self.clock.now()
        links: dict[str, str] = {}
        recipient = context.get("recipient")
        if (
            recipient is not None
            and getattr(recipient, "kind", None) == "advisor"
            and "withdrawal_url" not in context
        ):
            links["withdrawal_url"] = withdrawal_url(
                self.portal_url, recipient.code, now, self.key, self.link_days
            )
        token = context.get("survey_token")
        if token:
            links["survey_url"] = survey_url(self.portal_url, token, now, self.key, self.link_days)
        return {**context, **links} if links else context

    def render(self, template: str, language: str, context: Mapping[str, Any]) -> RenderedEmail:
        return self.inner.render(template, language, self.with_links(context))


# ----------------------------------------------------------------- templates check


@dataclass(frozen=True)
class TemplateCheck:
    notification: str
    language: str
    audience: str
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


def _sample_recipient(audience: str, language: str) -> Person:
    if audience == "advisor":
        return Person("PA-2B8NQW", "advisor", "Jordan", "Okafor", "j@ex.org", language)
    return Person("ST-4HWX2B", "staff", "Dre Nadia Haddad", "", "n@ex.org", language)


def _names(people: Iterable[Person]) -> set[str]:
    return {part for p in people for part in (p.first_name, p.last_name) if part}


def check_templates(
    templates_dir: Path, languages: Iterable[str] = LANGUAGES
) -> list[TemplateCheck]:
    """Render every notification in every language, for each kind of recipient it may
    have, with the catalogue's sample context. Reports a missing variable or template, a
    subject that is empty or names a person, an advisor e-mail without the withdrawal
    footer, template files that belong to no notification, text a template says outside
    ``_()``, and what :func:`check_catalogues` finds (untranslated, fuzzy, not extracted)."""
    languages = tuple(languages)
    try:
        environment = make_environment(templates_dir)
    except CatalogueError as error:
        return [TemplateCheck("(catalogue)", "-", "-", (f"missing translation: {error}",))]
    renderer = JinjaRenderer(environment)
    links = PersonalLinks(renderer, SAMPLE_PORTAL_URL, SAMPLE_KEY, 30, FixedClock(SAMPLE_MOMENT))
    people = sample_people()
    results: list[TemplateCheck] = []
    for kind in NOTIFICATIONS.values():
        audiences = ("advisor", "staff") if kind.audience == "any" else (kind.audience,)
        for language in languages:
            for audience in audiences:
                recipient = _sample_recipient(audience, language)
                problems = _check_one(links, kind.name, language, kind.sample, recipient, people)
                results.append(TemplateCheck(kind.name, language, audience, tuple(problems)))
    wording = check_wording(templates_dir, languages)
    if not wording:  # the catalogues agree; the e-mails need texts they may both lack
        # make_environment puts the Wording there; Jinja types its globals as any object.
        catalogues = cast(Wording, environment.globals["wording"])
        wording = [
            f"missing translation: {language} text for {key}"
            for key in required_texts()
            for language in languages
            if not catalogues.has(key, language)
        ]
    if wording:
        results.append(TemplateCheck("(wording)", "-", "-", tuple(wording)))
    catalogue = check_catalogues(templates_dir, languages)
    if catalogue:
        results.append(TemplateCheck("(catalogue)", "-", "-", tuple(catalogue)))
    bare = untranslated_text(templates_dir)
    if bare:
        results.append(TemplateCheck("(text outside _())", "-", "-", tuple(bare)))
    stray = _stray_files(templates_dir)
    if stray:
        results.append(TemplateCheck("(unknown files)", "-", "-", tuple(stray)))
    return results


def required_texts() -> list[str]:
    """Catalogue texts the e-mails may need whatever the sample: the digest's (every kind
    of case, decision stage and purpose), the name of every notification and the outcomes
    of a failed delivery (the coordinators' notice)."""
    return (
        ["email.organization"]
        + digest_texts()
        + [f"email.notifications.{name}" for name in NOTIFICATIONS]
        + [f"email.statuses.{status}" for status in ("failed", "dead")]
    )


def _check_one(
    links: PersonalLinks,
    name: str,
    language: str,
    sample: Mapping[str, Any],
    recipient: Person,
    people: Mapping[str, Person],
) -> list[str]:
    everyone = {**people, recipient.code: recipient}
    context = links.with_links(template_context(sample, recipient, language, everyone))
    renderer = links.inner
    try:
        rendered = renderer.render(name, language, context)
    except TemplateNotFound as exc:
        return [f"missing template: {exc.name}"]
    except CatalogueError as exc:
        return [f"missing translation: {exc}"]
    except UndefinedError as exc:
        return [f"missing variable: {exc}"]
    except WordingError as exc:
        return [f"missing translation: {exc}"]
    except Exception as exc:
        return [f"{type(exc).__name__}: {exc}"]
    problems = []
    if not rendered.subject:
        problems.append("empty subject")
    named = sorted(n for n in _names(everyone.values()) if n in rendered.subject)
    if named:
        problems.append("the subject names a person (subjects show in logs and lists)")
    codes = sorted(set(INTERNAL_CODE.findall(rendered.subject)))
    if codes:
        problems.append(
            f"the subject carries an internal code ({', '.join(codes)}); name it in the body"
        )
    if not rendered.text.strip() or not rendered.html.strip():
        problems.append("empty text or HTML part")
    if recipient.kind == "advisor":
        base = {
            "lang": language,
            "recipient": recipient,
            "audience": "advisor",
            "withdrawal_url": context["withdrawal_url"],
        }
        env = renderer.environment
        for part, body in (("txt", rendered.text), ("html", rendered.html)):
            slot = env.get_template(f"{ROOT}/_withdrawal.{part}").render(base)
            slot = finish("html" if part == "html" else "text", slot, language)
            if slot.strip() and slot.strip() not in body:
                problems.append(f"the {part} part lacks the withdrawal footer")
    return problems


def _stray_files(templates_dir: Path) -> list[str]:
    known = {f"{name}{suffix}" for name in NOTIFICATIONS for suffix in PARTS.values()}
    folder = templates_dir / ROOT
    if not folder.is_dir():
        return []
    return [
        f"{ROOT}/{path.relative_to(folder)} belongs to no notification"
        for path in sorted(folder.rglob("*"))
        if path.is_file()
        and not (path.name.startswith("_") or path.name == "layout.html" or path.name in known)
    ]
