"""E-mail rendering with Jinja2, and the check that every template renders.

Layout of ``templates/``::

    email/layout.html                  the shared HTML layout
    email/<lang>/_withdrawal.{txt,html}  the withdrawal footer of every advisor e-mail
    email/<lang>/_footer.{txt,html}     the signature of every e-mail
    email/<lang>/<name>.subject.txt     one line
    email/<lang>/<name>.txt             the plain-text part
    email/<lang>/<name>.html            the HTML part (extends the layout)

HTML is autoescaped and every undefined variable is an error (StrictUndefined).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import (
    Environment,
    FileSystemLoader,
    StrictUndefined,
    Template,
    TemplateNotFound,
    UndefinedError,
    select_autoescape,
)

from ppflow.domain.model import LANGUAGES
from ppflow.services.links import survey_url, withdrawal_url
from ppflow.services.notifications import (
    NOTIFICATIONS,
    Person,
    RenderedEmail,
    sample_people,
    template_context,
)
from ppflow.services.ports import SYSTEM_CLOCK, Clock
from ppflow.services.wording import Wording, check_wording, template_filters

ROOT = "email"
# What the templates check signs its sample links with.
SAMPLE_PORTAL_URL = "https://portal.example"
SAMPLE_KEY = "sample-key-for-the-templates-check"
PARTS = {"subject": ".subject.txt", "text": ".txt", "html": ".html"}


def make_environment(templates_dir: Path) -> Environment:
    """Build the Jinja2 environment (called by the bootstrap, never at import), with the
    locale filters and the wording catalogues (``wording.stage(kind, stage, lang)``)."""
    environment = Environment(
        loader=FileSystemLoader(str(templates_dir)),
        autoescape=select_autoescape(enabled_extensions=("html",), default=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        auto_reload=False,
    )
    environment.filters.update(template_filters())
    environment.globals["wording"] = Wording.from_directory(templates_dir)
    return environment


def template_path(name: str, language: str, part: str) -> str:
    return f"{ROOT}/{language}/{name}{PARTS[part]}"


class JinjaRenderer:
    def __init__(self, environment: Environment):
        self.environment = environment
        self._parts: dict[tuple[str, str], tuple[Template, Template, Template]] = {}

    @classmethod
    def from_directory(cls, templates_dir: Path) -> JinjaRenderer:
        return cls(make_environment(templates_dir))

    def _templates(self, template: str, language: str) -> tuple[Template, Template, Template]:
        found = self._parts.get((template, language))
        if found is None:
            get = self.environment.get_template
            found = tuple(get(template_path(template, language, part)) for part in PARTS)
            self._parts[template, language] = found
        return found

    def render(self, template: str, language: str, context: Mapping[str, Any]) -> RenderedEmail:
        subject_template, text_template, html_template = self._templates(template, language)
        subject = " ".join(subject_template.render(context).split())  # always one line
        values = {**context, "subject": subject}
        return RenderedEmail(
            subject=subject, text=text_template.render(values), html=html_template.render(values)
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
        if getattr(recipient, "kind", None) == "advisor" and "withdrawal_url" not in context:
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
    have, with the catalogue's sample context. Reports a missing variable, a missing
    translation, a subject that is empty or names a person, an advisor e-mail without the
    withdrawal footer, and template files that belong to no notification."""
    languages = tuple(languages)
    environment = make_environment(templates_dir)
    renderer = JinjaRenderer(environment)
    links = PersonalLinks(renderer, SAMPLE_PORTAL_URL, SAMPLE_KEY, 30, SYSTEM_CLOCK)
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
    if wording:
        results.append(TemplateCheck("(wording)", "-", "-", tuple(wording)))
    stray = _stray_files(templates_dir, languages)
    if stray:
        results.append(TemplateCheck("(unknown files)", "-", "-", tuple(stray)))
    return results


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
        return [f"missing translation: {exc.name}"]
    except UndefinedError as exc:
        return [f"missing variable: {exc}"]
    except Exception as exc:
        return [f"{type(exc).__name__}: {exc}"]
    problems = []
    if not rendered.subject:
        problems.append("empty subject")
    named = sorted(n for n in _names(everyone.values()) if n in rendered.subject)
    if named:
        problems.append("the subject names a person (subjects show in logs and lists)")
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
            slot = env.get_template(f"{ROOT}/{language}/_withdrawal.{part}").render(base)
            if slot.strip() and slot.strip() not in body:
                problems.append(f"the {part} part lacks the withdrawal footer")
    return problems


def _stray_files(templates_dir: Path, languages: tuple[str, ...]) -> list[str]:
    known = {f"{name}{suffix}" for name in NOTIFICATIONS for suffix in PARTS.values()}
    stray = []
    for language in languages:
        folder = templates_dir / ROOT / language
        if not folder.is_dir():
            continue
        for path in sorted(folder.iterdir()):
            if path.name.startswith("_") or path.name in known:
                continue
            stray.append(f"{ROOT}/{language}/{path.name} belongs to no notification")
    return stray
