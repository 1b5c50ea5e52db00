"""Questionnaires as versioned data: load, validate, answer and score them.

A questionnaire is one YAML file named ``<name>.v<version>.yaml``. ppflow ships its own in
the ``ppflow.questionnaires`` package; an organization adds others (for instance an
established instrument it holds a licence for) in a directory of its own. A file with
``locked: true`` carries its licence text and a ``content_hash`` of its content: the loader
refuses it if a single word was changed after it was sealed.

An agreement item may offer a "not applicable / prefer not to say" answer:
``not_applicable: true`` at the top of the file offers it on every agreement item, and the
same key on an item overrides that for the item. Such an answer is stored as
:data:`NOT_APPLICABLE` (a text, never a number), so it counts as an answer but never as a
score: means, theme scores and indicators leave it out.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from statistics import mean

import yaml

from ppflow.domain.errors import InvalidInputError, NotFoundError
from ppflow.resources import questionnaires_dir

LANGUAGES = ("fr", "en")
SCALE_POINTS = 5
OPEN_ANSWER_MAX = 4000
NOT_APPLICABLE = "na"  # the stored "not applicable / prefer not to say" answer
NOT_APPLICABLE_SPELLINGS = ("na", "n/a")  # what a form or a CSV file may carry for it
FILE_NAME = re.compile(r"^(?P<name>[a-z0-9][a-z0-9-]*)\.v(?P<version>[0-9]+)\.ya?ml$")
ITEM_ID = re.compile(r"^[a-z][a-z0-9_]{0,47}$")


class QuestionnaireError(InvalidInputError):
    """A questionnaire file that cannot be used; the message names the file and the fault."""


@dataclass(frozen=True)
class Theme:
    id: str
    title: dict[str, str]


@dataclass(frozen=True)
class Item:
    id: str
    kind: str  # scale | open
    text: dict[str, str]
    theme: str | None = None
    not_applicable: bool = False  # offers "not applicable / prefer not to say"


@dataclass(frozen=True)
class Questionnaire:
    name: str
    version: int
    title: dict[str, str]
    intro: dict[str, str]
    scale: dict[str, tuple[str, ...]]
    themes: tuple[Theme, ...]
    items: tuple[Item, ...]
    locked: bool = False
    licence: str = ""
    content_hash: str = ""

    @property
    def scale_items(self) -> tuple[Item, ...]:
        return tuple(i for i in self.items if i.kind == "scale")

    @property
    def offers_not_applicable(self) -> bool:
        return any(i.not_applicable for i in self.items)

    def item(self, item_id: str) -> Item:
        for item in self.items:
            if item.id == item_id:
                return item
        raise InvalidInputError(
            f"questionnaire {self.name} v{self.version} has no item '{item_id}'"
        )

    def sections(self) -> list[tuple[Theme | None, list[Item]]]:
        """Items grouped by theme in file order, open questions last."""
        themed = [(t, [i for i in self.items if i.theme == t.id]) for t in self.themes]
        groups: list[tuple[Theme | None, list[Item]]] = [(t, items) for t, items in themed if items]
        open_items = [i for i in self.items if i.kind == "open"]
        if open_items:
            groups.append((None, open_items))
        return groups


@dataclass(frozen=True)
class Scores:
    overall: float | None
    by_theme: dict[str, float]


@dataclass(frozen=True)
class AnswerFault:
    """One answer that cannot be taken. ``problem`` says which rule it breaks: ``unknown``
    (no such item), ``scale`` (not 1 to 5), ``not_applicable`` (the item does not offer
    it), ``too_long`` (an open answer over :data:`OPEN_ANSWER_MAX`), ``empty`` (the
    response has no answer at all). ``item`` is None for ``unknown`` and ``empty``."""

    problem: str
    item: Item | None
    message: str  # in English, with the item id, for the command line

    def __str__(self) -> str:
        return self.message


class AnswersError(InvalidInputError):
    """Answers refused, each fault kept so that a page can say it in its own language."""

    def __init__(self, faults: Iterable[AnswerFault]):
        self.faults = tuple(faults)
        super().__init__("; ".join(str(f) for f in self.faults))


# ------------------------------------------------------------------------------ loading


def content_hash(document: Mapping) -> str:
    """The hash that seals a locked file: its content, whatever its YAML layout."""
    content = {k: v for k, v in document.items() if k != "content_hash"}
    canonical = json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _texts(value, where: str, source: str) -> dict[str, str]:
    if not isinstance(value, Mapping):
        raise QuestionnaireError(f"{source}: {where} needs a text in each of {LANGUAGES}")
    missing = [lang for lang in LANGUAGES if not str(value.get(lang) or "").strip()]
    if missing:
        raise QuestionnaireError(f"{source}: {where} has no text in {', '.join(missing)}")
    return {lang: str(value[lang]).strip() for lang in LANGUAGES}


def parse(document: Mapping, source: str = "questionnaire") -> Questionnaire:
    """Validate one parsed document; every fault raises QuestionnaireError naming it."""
    if not isinstance(document, Mapping):
        raise QuestionnaireError(f"{source}: not a YAML mapping")
    name = str(document.get("name") or "")
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]*", name):
        raise QuestionnaireError(f"{source}: 'name' must be lower-case letters, digits and '-'")
    version = document.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise QuestionnaireError(f"{source}: 'version' must be a whole number from 1")
    scale_doc = document.get("scale")
    if not isinstance(scale_doc, Mapping):
        raise QuestionnaireError(f"{source}: 'scale' needs its {SCALE_POINTS} labels per language")
    scale = {}
    for lang in LANGUAGES:
        labels = scale_doc.get(lang)
        if not isinstance(labels, list) or len(labels) != SCALE_POINTS:
            raise QuestionnaireError(
                f"{source}: the scale in {lang} needs exactly {SCALE_POINTS} labels (1 to 5)"
            )
        scale[lang] = tuple(str(label) for label in labels)
    themes = []
    for index, raw in enumerate(document.get("themes") or [], start=1):
        if not isinstance(raw, Mapping) or not ITEM_ID.match(str(raw.get("id") or "")):
            raise QuestionnaireError(f"{source}: theme {index} needs an id like 'respect'")
        themes.append(Theme(raw["id"], _texts(raw.get("title"), f"theme {raw['id']}", source)))
    theme_ids = [t.id for t in themes]
    if len(set(theme_ids)) != len(theme_ids):
        raise QuestionnaireError(f"{source}: theme ids must be unique")
    offered = document.get("not_applicable", False)
    if not isinstance(offered, bool):
        raise QuestionnaireError(f"{source}: 'not_applicable' is true or false")
    items, seen = [], set()
    for index, raw in enumerate(document.get("items") or [], start=1):
        if not isinstance(raw, Mapping):
            raise QuestionnaireError(f"{source}: item {index} is not a mapping")
        item_id = str(raw.get("id") or "")
        if not ITEM_ID.match(item_id):
            raise QuestionnaireError(
                f"{source}: item {index} needs an id of lower-case letters, digits and '_'"
            )
        if item_id in seen:
            raise QuestionnaireError(f"{source}: item id '{item_id}' appears twice")
        seen.add(item_id)
        kind = raw.get("type")
        if kind not in ("scale", "open"):
            raise QuestionnaireError(
                f"{source}: item {item_id} has type {kind!r}; use scale or open"
            )
        theme = raw.get("theme")
        if kind == "scale" and theme not in theme_ids:
            raise QuestionnaireError(
                f"{source}: scale item {item_id} needs a theme among {', '.join(theme_ids)}"
            )
        offers = raw.get("not_applicable", offered if kind == "scale" else False)
        if not isinstance(offers, bool):
            raise QuestionnaireError(f"{source}: item {item_id}: 'not_applicable' is true or false")
        if offers and kind != "scale":
            raise QuestionnaireError(
                f"{source}: item {item_id} is an open question; only agreement items offer "
                "'not applicable' (an open question may be left blank)"
            )
        text = _texts(raw.get("text"), f"item {item_id}", source)
        items.append(Item(item_id, kind, text, theme, offers))
    if not any(i.kind == "scale" for i in items):
        raise QuestionnaireError(f"{source}: no agreement-scale item")
    locked = document.get("locked", False)
    if not isinstance(locked, bool):
        raise QuestionnaireError(f"{source}: 'locked' is true or false")
    licence = str(document.get("licence") or "").strip()
    recorded_hash = str(document.get("content_hash") or "")
    if locked:
        if not licence:
            raise QuestionnaireError(f"{source}: a locked questionnaire keeps its licence text")
        if not recorded_hash:
            raise QuestionnaireError(
                f"{source}: a locked questionnaire must be sealed first "
                "(`ppflow questionnaire add FILE` records its content hash)"
            )
        if recorded_hash != content_hash(document):
            raise QuestionnaireError(
                f"{source}: this licensed questionnaire was modified after it was sealed; "
                "its items are locked against editing. Restore the licensed wording."
            )
    return Questionnaire(
        name=name,
        version=version,
        title=_texts(document.get("title"), "title", source),
        intro=_texts(document["intro"], "intro", source)
        if document.get("intro")
        else dict.fromkeys(LANGUAGES, ""),
        scale=scale,
        themes=tuple(themes),
        items=tuple(items),
        locked=locked,
        licence=licence,
        content_hash=recorded_hash,
    )


def load_file(path: Path) -> Questionnaire:
    """Load and validate one file; its name must say the questionnaire's name and version."""
    match = FILE_NAME.match(path.name)
    if not match:
        raise QuestionnaireError(f"{path.name}: name the file <name>.v<version>.yaml")
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise QuestionnaireError(f"{path.name}: cannot be read as UTF-8 YAML ({error})") from None
    questionnaire = parse(document, path.name)
    if (questionnaire.name, questionnaire.version) != (
        match["name"],
        int(match["version"]),
    ):
        raise QuestionnaireError(
            f"{path.name}: the file says {questionnaire.name} v{questionnaire.version}"
        )
    return questionnaire


def seal(path: Path) -> str:
    """Record the content hash in a locked file (done once, when the licensed instrument is
    loaded); returns the hash. The rest of the file is kept as written."""
    text = path.read_text(encoding="utf-8")
    document = yaml.safe_load(text)
    if not isinstance(document, Mapping) or document.get("locked") is not True:
        raise QuestionnaireError(f"{path.name}: only a file with 'locked: true' is sealed")
    if document.get("content_hash"):
        load_file(path)  # already sealed: it must still match
        return document["content_hash"]
    digest = content_hash(document)
    path.write_text(text.rstrip("\n") + f"\ncontent_hash: {digest}\n", encoding="utf-8")
    load_file(path)
    return digest


class QuestionnaireLibrary:
    """Every questionnaire file in the given directories (shipped ones first)."""

    def __init__(self, directories: Iterable[Path] | None = None):
        if directories is None:
            directories = (questionnaires_dir(),)
        self.directories = [Path(d) for d in directories]

    def files(self) -> list[Path]:
        found = []
        for directory in self.directories:
            if directory.is_dir():
                found += sorted(p for p in directory.iterdir() if FILE_NAME.match(p.name))
        return found

    def versions(self, name: str) -> dict[int, Path]:
        out = {}
        for path in self.files():
            match = FILE_NAME.match(path.name)
            if match and match["name"] == name:
                out[int(match["version"])] = path
        return out

    def get(self, name: str, version: int | None = None) -> Questionnaire:
        """The given version, or the newest one."""
        versions = self.versions(name)
        if not versions:
            raise NotFoundError("questionnaire", name)
        chosen = max(versions) if version is None else version
        if chosen not in versions:
            raise NotFoundError("questionnaire version", f"{name} v{chosen}")
        return load_file(versions[chosen])

    def all(self) -> list[Questionnaire]:
        return [load_file(p) for p in self.files()]


# ---------------------------------------------------------------------- answers, scores


def _clean_text(value: str) -> str:
    """Keep what a person wrote, minus control characters; bounded in length."""
    kept = "".join(
        ch for ch in str(value) if ch in "\n\t" or unicodedata.category(ch)[0] != "C"
    ).strip()
    if len(kept) > OPEN_ANSWER_MAX:
        raise InvalidInputError(f"an open answer is limited to {OPEN_ANSWER_MAX} characters")
    return kept


def clean_answers(questionnaire: Questionnaire, raw: Mapping[str, object]) -> dict[str, int | str]:
    """Check answers against the questionnaire: known ids, scale answers 1-5 (text such as
    "4" is accepted) or, where the item offers it, "na" for not applicable (stored as
    :data:`NOT_APPLICABLE`), open answers as text. Blank answers are left out; at least
    one answer is needed. Raises AnswersError naming each fault."""
    answers: dict[str, int | str] = {}
    faults: list[AnswerFault] = []
    for key, value in raw.items():
        try:
            item = questionnaire.item(str(key))
        except InvalidInputError as error:
            faults.append(AnswerFault("unknown", None, str(error)))
            continue
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        if item.kind == "scale":
            if isinstance(value, str) and value.strip().lower() in NOT_APPLICABLE_SPELLINGS:
                if item.not_applicable:
                    answers[item.id] = NOT_APPLICABLE
                else:
                    faults.append(
                        AnswerFault(
                            "not_applicable",
                            item,
                            f"{item.id}: this item does not offer 'not applicable'; "
                            f"agreement answers go from 1 to {SCALE_POINTS}",
                        )
                    )
                continue
            number = value
            if isinstance(value, str) and value.strip().isdigit():
                number = int(value.strip())
            if (
                not isinstance(number, int)
                or isinstance(number, bool)
                or not 1 <= number <= SCALE_POINTS
            ):
                faults.append(
                    AnswerFault(
                        "scale", item, f"{item.id}: agreement answers go from 1 to {SCALE_POINTS}"
                    )
                )
                continue
            answers[item.id] = number
        else:
            try:
                text = _clean_text(str(value))
            except InvalidInputError as error:
                faults.append(AnswerFault("too_long", item, f"{item.id}: {error}"))
                continue
            if text:
                answers[item.id] = text
    if faults:
        raise AnswersError(faults)
    if not answers:
        raise AnswersError([AnswerFault("empty", None, "the response has no answer")])
    return answers


def unanswered(questionnaire: Questionnaire, answers: Mapping[str, object]) -> tuple[Item, ...]:
    """The agreement items with no answer (a score or not applicable), in file order; a
    blank text is no answer."""
    return tuple(
        i
        for i in questionnaire.scale_items
        if answers.get(i.id) is None or not str(answers.get(i.id)).strip()
    )


def score(questionnaire: Questionnaire, answers: Mapping[str, int | str]) -> Scores:
    """The mean of the answered scale items, overall and per theme (two decimals). A not
    applicable answer is no score: it is left out of every mean."""
    by_theme: dict[str, list[int]] = {}
    for item in questionnaire.scale_items:
        value = answers.get(item.id)
        if isinstance(value, int) and not isinstance(value, bool) and item.theme:
            by_theme.setdefault(item.theme, []).append(value)  # a scale item has one (load)
    every = [v for values in by_theme.values() for v in values]
    return Scores(
        overall=round(float(mean(every)), 2) if every else None,
        by_theme={theme: round(float(mean(values)), 2) for theme, values in by_theme.items()},
    )


def library_for(data_dir: Path) -> QuestionnaireLibrary:
    """The shipped questionnaires, then the organization's own in ``<data_dir>/questionnaires``
    (where ``ppflow questionnaire add`` puts a licensed instrument)."""
    return QuestionnaireLibrary([questionnaires_dir(), Path(data_dir) / "questionnaires"])
