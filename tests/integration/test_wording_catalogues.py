"""The wording catalogues on disk: the check names what is missing, and the shipped ones
are complete."""

from __future__ import annotations

from pathlib import Path

from ppflow.services.wording import check_wording


def write(root: Path, lang: str, area: str, body: str) -> None:
    folder = root / "wording" / lang
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{area}.yaml").write_text(body, encoding="utf-8")


def test_the_check_names_a_missing_area_a_missing_key_and_differing_placeholders(tmp_path):
    write(tmp_path, "fr", "report", "title: Rapport {year}\nfunnel: Entonnoir\n")
    write(tmp_path, "en", "report", "title: Report\n")
    write(tmp_path, "fr", "portal", "send: Envoyer\n")
    problems = check_wording(tmp_path, ("fr", "en"))
    assert "missing translation: wording/en/portal.yaml" in problems
    assert "missing translation: en text for report.funnel" in problems
    assert any(p.startswith("placeholders differ for report.title") for p in problems)


def test_the_shipped_catalogues_are_complete():
    from ppflow.resources import templates_dir

    assert check_wording(templates_dir()) == []
