"""The README's lifecycle diagrams are the transition tables, and the layers keep their
dependency direction."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from pathlib import Path

import pytest

from ppflow.domain.lifecycle import ANY, LIFECYCLES

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def readme_diagram(name: str) -> str:
    match = re.search(
        rf"<!-- lifecycle:{name} -->\s*```mermaid\n(.*?)\n```", README, flags=re.DOTALL
    )
    assert match, f"README.md has no Mermaid diagram marked <!-- lifecycle:{name} -->"
    return match.group(1)


def edges_of(diagram: str, non_final: tuple[str, ...]) -> set[tuple[str, str]]:
    """The moves a diagram shows, with the summary state 'any' expanded."""
    edges = set()
    for source, target in re.findall(r"^\s*(\w+) --> (\w+)", diagram, flags=re.MULTILINE):
        sources = [s for s in non_final if s != target] if source == ANY else [source]
        for s in sources:
            targets = (
                [t for t in non_final if t not in (s, "on_hold")] if target == ANY else [target]
            )
            edges.update((s, t) for t in targets)
    return edges


@pytest.mark.parametrize("name", list(LIFECYCLES))
def test_the_readme_diagram_is_generated_from_the_transition_table(name):
    lifecycle = LIFECYCLES[name][0]
    diagram = readme_diagram(name)
    assert diagram == lifecycle.mermaid(), "run `ppflow lifecycle NAME` and paste its output"
    assert edges_of(diagram, lifecycle.non_final) == {(m.source, m.target) for m in lifecycle.moves}


def test_the_advisor_lifecycle_is_on_the_first_screen():
    first_screen = "\n".join(README.splitlines()[:60])
    assert "<!-- lifecycle:advisor -->" in first_screen


def test_the_readme_layout_names_paths_that_exist_and_every_folder_that_ships():
    match = re.search(r"^## Layout\n\n```\n(.*?)\n```", README, flags=re.DOTALL | re.MULTILINE)
    assert match, "README.md has no ## Layout section opening with a block"
    named = [line.split()[0] for line in match.group(1).splitlines() if line[:1].strip()]
    assert [path for path in named if not (ROOT / path).exists()] == []
    package_dir = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"][
        "setuptools"
    ]["package-dir"]
    folders = {*package_dir.values(), "tests"}
    unnamed = [f for f in sorted(folders) if not any(p.split("/")[0] == f for p in named)]
    assert unnamed == [], f"the README's Layout leaves out {unnamed}"


def imports_of(package: Path) -> dict[Path, set[str]]:
    found = {}
    for path in package.rglob("*.py"):
        names = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module)
        found[path] = names
    return found


def test_the_domain_imports_the_standard_library_only():
    for path, names in imports_of(ROOT / "ppflow" / "domain").items():
        for name in names:
            top = name.split(".")[0]
            assert (
                top == "__future__"
                or top in sys.stdlib_module_names
                or name.startswith("ppflow.domain")
            ), f"{path.name} imports {name}"


@pytest.mark.parametrize("layer", ["domain", "services", "adapters"])
def test_inner_layers_never_import_prefect_or_the_flows(layer):
    for path, names in imports_of(ROOT / "ppflow" / layer).items():
        for name in names:
            assert name.split(".")[0] not in ("prefect", "flows", "ppflow_flows"), (
                f"{path.relative_to(ROOT)} imports {name}"
            )


def test_services_depend_on_ports_not_on_adapters_or_sqlalchemy():
    for path, names in imports_of(ROOT / "ppflow" / "services").items():
        for name in names:
            assert not name.startswith(("ppflow.adapters", "sqlalchemy", "ppflow.bootstrap")), (
                f"{path.relative_to(ROOT)} imports {name}"
            )


# ------------------------------------------------------------------------- the clock

# Calls that read the real time. Durations (time.monotonic, perf_counter) are not dates.
TIME_READS = {
    ("datetime", "now"),
    ("datetime", "utcnow"),
    ("datetime", "today"),
    ("date", "today"),
    ("time", "time"),
    ("time", "time_ns"),
    ("time", "localtime"),
    ("time", "gmtime"),
}


def time_reads(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            owner = node.func.value
            name = owner.attr if isinstance(owner, ast.Attribute) else getattr(owner, "id", "")
            if (name, node.func.attr) in TIME_READS:
                found.append(f"{path.relative_to(ROOT)}:{node.lineno} {name}.{node.func.attr}()")
    return found


def test_only_the_bootstrap_reads_the_time():
    """Use cases, flows and adapters are handed a clock: only ``bootstrap`` picks the real
    one. Migrations are left out: a revision stamps the moment the schema changed, when no
    application (and so no clock) exists yet."""
    sources = [*(ROOT / "ppflow").rglob("*.py"), *(ROOT / "flows").rglob("*.py")]
    found = [
        read
        for path in sources
        if "migrations" not in path.parts
        for read in time_reads(path)
        if path != ROOT / "ppflow" / "bootstrap.py"
    ]
    assert found == [], "these read the real time instead of a clock:\n" + "\n".join(found)


def test_a_use_case_cannot_be_called_without_its_clock():
    """A clock is a required parameter wherever one is taken, so a call that forgets it
    fails at once (and in the type checker), not on the day the real date makes a
    difference."""
    import importlib
    import inspect

    defaulted = []
    for path in sorted((ROOT / "ppflow" / "services").glob("*.py")):
        module = importlib.import_module(f"ppflow.services.{path.stem}")
        for name, function in inspect.getmembers(module, inspect.isfunction):
            if function.__module__ != module.__name__:
                continue
            parameter = inspect.signature(function).parameters.get("clock")
            if parameter is not None and parameter.default is not inspect.Parameter.empty:
                defaulted.append(f"{module.__name__}.{name}")
    assert defaulted == [], f"a clock with a default: {defaulted}"


# --------------------------------------------------------------- the services' imports


def service_imports() -> dict[str, set[str]]:
    """Which service modules each service module imports, anywhere in it (at the top,
    in a function, or for type checking only: each is a dependency a reader follows)."""
    services = ROOT / "ppflow" / "services"
    known = {path.stem for path in services.glob("*.py")}
    graph = {}
    for path in services.glob("*.py"):
        targets = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module == "ppflow.services":
                names = [f"ppflow.services.{alias.name}" for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            else:
                continue
            targets.update(n.split(".")[2] for n in names if n.startswith("ppflow.services."))
        graph[path.stem] = (targets & known) - {path.stem}
    return graph


def import_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the graph (its modules in order, the first repeated at the end), or
    None when it has none."""
    done: set[str] = set()
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        if node in path:
            return path[path.index(node) :] + [node]
        if node in done:
            return None
        path.append(node)
        for target in sorted(graph.get(node, ())):
            cycle = visit(target)
            if cycle:
                return cycle
        path.pop()
        done.add(node)
        return None

    for start in sorted(graph):
        cycle = visit(start)
        if cycle:
            return cycle
    return None


def test_the_services_import_no_cycle():
    """The values the ports carry are defined beside the ports (``ports.py``), so that
    ``ports`` imports no use case and no two service modules need each other."""
    cycle = import_cycle(service_imports())
    assert cycle is None, "service modules import each other in a cycle: " + " -> ".join(cycle)


def test_the_cycle_finder_finds_a_cycle():
    assert import_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c", "a"]
    assert import_cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None


# ------------------------------------------------------------------ one way to commit

# Where a transaction may begin, commit or roll back, and why. Everything else works on
# the unit of work's session; a use case commits with ``uow.commit()``.
TRANSACTION_OWNERS = {
    "ppflow/adapters/unit_of_work.py": "the unit of work: the one boundary",
    "ppflow/adapters/outbox.py": "the outbox's lease claims and outcomes (its port says so)",
    "ppflow/adapters/migrations/env.py": "Alembic's transaction around a migration",
}
BOUNDARIES = {"begin", "begin_nested", "commit", "rollback"}


def transaction_boundaries(source: str, name: str) -> list[str]:
    """Calls that begin, commit or roll back a transaction (``x.commit()``,
    ``session_factory.begin()``, ``session.begin_nested()``...): a method of that name
    called without arguments (a domain entity's ``begin(meta, now)`` is not one), except
    the unit of work's own, which use cases call as ``uow.commit()``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        if node.func.attr not in BOUNDARIES or node.args:
            continue
        receiver = ast.unparse(node.func.value)
        if receiver == "uow":
            continue
        found.append(f"{name}:{node.lineno} {receiver}.{node.func.attr}()")
    return sorted(found, key=lambda site: int(site.split(":")[1].split()[0]))


def test_only_the_unit_of_work_and_the_outbox_begin_commit_or_roll_back():
    """One way to commit: repositories and stores work on the unit of work's session, so
    that what a use case writes commits together. The outbox alone keeps short
    transactions of its own, and its port says why."""
    sources = [*(ROOT / "ppflow").rglob("*.py"), *(ROOT / "flows").rglob("*.py")]
    found = [
        site
        for path in sorted(sources)
        if path.relative_to(ROOT).as_posix() not in TRANSACTION_OWNERS
        for site in transaction_boundaries(
            path.read_text(encoding="utf-8"), path.relative_to(ROOT).as_posix()
        )
    ]
    assert found == [], "these open or end a transaction of their own:\n" + "\n".join(found)


def test_the_outbox_port_and_the_layout_say_it_commits_on_its_own():
    from ppflow.services import ports

    assert "commits on its own" in ports.Outbox.__doc__
    assert "Outbox" in ports.__doc__  # the module names its one exception
    layout = README.split("## Layout", 1)[1].split("\n## ", 1)[0]
    assert re.search(r"outbox\.py.*commits on its own", layout), (
        "the README's Layout names the outbox as the adapter with its own transactions"
    )


def test_the_transaction_scan_sees_each_kind_of_boundary():
    sample = (
        "def f(session, session_factory, uow, advisor, meta, now):\n"
        "    with session_factory.begin() as s:\n"
        "        s.commit()\n"
        "    session.rollback()\n"
        "    with session.begin_nested():\n"
        "        pass\n"
        "    advisor.begin(meta, now)\n"
        "    uow.commit()\n"
    )
    assert [site.split(" ", 1)[1] for site in transaction_boundaries(sample, "sample")] == [
        "session_factory.begin()",
        "s.commit()",
        "session.rollback()",
        "session.begin_nested()",
    ]
