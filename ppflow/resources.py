"""The files ppflow ships inside its packages, found with :mod:`importlib.resources`, so
that they are where the code is whether ppflow runs from a checkout or from a wheel:

- the Jinja templates (e-mail, portal, report) and wording catalogues in
  ``ppflow.templates`` (``templates/`` in a checkout);
- the deployments, ``prefect.yaml``, and the portal's reverse proxy, ``nginx-portal.conf``,
  in ``ppflow_flows.deployments`` (``deployments/`` in a checkout);
- the shipped questionnaires in ``ppflow.questionnaires``;
- the Alembic migrations in ``ppflow.adapters.migrations``.

Jinja's ``FileSystemLoader``, Alembic and ``prefect deploy`` want real paths, so every
function returns a :class:`~pathlib.Path`. Wheels install unzipped, so the packages are
always directories on disk; a zipped install is reported by :func:`problems`.
"""

from __future__ import annotations

import sys
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

TEMPLATE_FOLDERS = ("email", "portal", "report")


def _path(package: str, *parts: str) -> Path:
    found: Traversable = resources.files(package).joinpath(*parts)
    if not isinstance(found, Path):
        raise RuntimeError(
            f"{package} is not installed as files on disk ({found!r}); "
            "install ppflow from its wheel or its source tree"
        )
    return found


def templates_dir() -> Path:
    """The shipped templates (the default of ``PPFLOW_TEMPLATES_DIR``)."""
    return _path("ppflow.templates")


def prefect_file() -> Path:
    """``prefect.yaml``: the deployments ``prefect deploy`` and ``ppflow serve`` read."""
    return _path("ppflow_flows.deployments", "prefect.yaml")


def proxy_file() -> Path:
    """``nginx-portal.conf``: the reverse proxy the production recipe puts before the portal."""
    return _path("ppflow_flows.deployments", "nginx-portal.conf")


def questionnaires_dir() -> Path:
    """The questionnaires ppflow ships (``<name>.v<version>.yaml``)."""
    return _path("ppflow.questionnaires")


def migrations_dir() -> Path:
    """Alembic's script location."""
    return _path("ppflow.adapters.migrations")


def problems(templates: Path | None = None) -> list[str]:
    """What is missing among the files ppflow needs at run time, one sentence each; an empty
    list when all is well. ``templates`` is the templates directory in use (the settings'
    ``templates_dir``, which may point elsewhere than the shipped one)."""
    found: list[str] = []
    try:
        folder = templates if templates is not None else templates_dir()
    except RuntimeError as error:
        found.append(str(error))
    else:
        if not folder.is_dir():
            found.append(f"templates: no directory at {folder}")
        else:
            found.extend(
                f"templates: no {name}/ in {folder}"
                for name in TEMPLATE_FOLDERS
                if not (folder / name).is_dir()
            )
    checks = (
        ("deployments", prefect_file, Path.is_file),
        ("the portal's proxy", proxy_file, Path.is_file),
        ("questionnaires", questionnaires_dir, lambda p: any(p.glob("*.yaml"))),
        ("migrations", migrations_dir, lambda p: (p / "script.py.mako").is_file()),
    )
    for label, locate, present in checks:
        try:
            path = locate()
        except (RuntimeError, ModuleNotFoundError) as error:
            found.append(f"{label}: {error}")
            continue
        if not path.exists() or not present(path):
            found.append(f"{label}: nothing usable at {path}")
    return found


def main(argv: list[str]) -> int:
    """``python -m ppflow.resources [templates|prefect.yaml|nginx-portal.conf|…]``:
    print where the shipped files are (for ``prefect deploy --prefect-file``), or, with no
    argument, every location and the problems found (exit status 1 if any)."""
    where = {
        "templates": templates_dir,
        "prefect.yaml": prefect_file,
        "nginx-portal.conf": proxy_file,
        "questionnaires": questionnaires_dir,
        "migrations": migrations_dir,
    }
    if argv:
        if len(argv) != 1 or argv[0] not in where:
            print(f"usage: python -m ppflow.resources [{'|'.join(where)}]", file=sys.stderr)
            return 2
        print(where[argv[0]]())
        return 0
    for label, locate in where.items():
        print(f"{label}: {locate()}")
    found = problems()
    for problem in found:
        print(f"problem: {problem}", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
