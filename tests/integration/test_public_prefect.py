"""ppflow uses Prefect's public API only, so that it can follow Prefect's minor releases
(pyproject.toml allows every Prefect 3 from 3.9.1). Read from the source of ``flows/`` and
``ppflow/``: no import of a private Prefect module or name, nor of Prefect's internal
packages, and no private attribute of a Prefect object."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SOURCES = sorted(p for folder in ("flows", "ppflow") for p in (ROOT / folder).rglob("*.py"))

# Packages of Prefect's that are its own machinery, not API for its users: their modules
# move between minor releases (3.9 turned prefect.utilities.engine into a package).
INTERNAL = ("prefect.utilities", "prefect.server", "prefect.testing", "prefect.cli")
# Standard library functions whose names start with an underscore by design.
STDLIB = {("os", "_exit"), ("sys", "_getframe")}


def private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def prefect_module(module: str) -> bool:
    return module == "prefect" or module.startswith("prefect.")


def root_name(node: ast.AST) -> str | None:
    """The name an attribute chain starts from (``a`` in ``a.b.c``, ``a().b``, ``a[0].b``)."""
    while isinstance(node, ast.Attribute | ast.Call | ast.Subscript):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node.id if isinstance(node, ast.Name) else None


def problems_in(source: str, where: str = "<source>") -> list[str]:
    """Every use of a private part of Prefect in one module's source."""
    tree = ast.parse(source)
    found: list[str] = []
    prefect_names: set[str] = set()  # the names the module binds to Prefect's objects

    def refuse(node: ast.AST, what: str) -> None:
        found.append(f"{where}:{node.lineno}: {what}")

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if prefect_module(alias.name):
                    check_module(node, alias.name, refuse)
                    prefect_names.add(alias.asname or alias.name.split(".")[0])
        elif isinstance(node, ast.ImportFrom) and node.module and prefect_module(node.module):
            check_module(node, node.module, refuse)
            for alias in node.names:
                if private(alias.name):
                    refuse(node, f"imports the private name {alias.name} from {node.module}")
                prefect_names.add(alias.asname or alias.name)

    # classes built on Prefect's (a Runner subclass): their own attributes only
    subclasses: dict[ast.ClassDef, set[str]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef) and any(
            root_name(base) in prefect_names for base in node.bases
        ):
            subclasses[node] = own_attributes(node)
    in_subclass: dict[ast.AST, set[str]] = {}
    for cls, own in subclasses.items():
        for inner in ast.walk(cls):
            in_subclass[inner] = own

    for node in ast.walk(tree):
        name = None
        if isinstance(node, ast.Attribute):
            name, owner = node.attr, node.value
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in ("getattr", "setattr", "hasattr", "delattr")
            and len(node.args) >= 2
            and isinstance(node.args[1], ast.Constant)
            and isinstance(node.args[1].value, str)
        ):
            name, owner = node.args[1].value, node.args[0]
        if name is None or not private(name):
            continue
        root = root_name(owner)
        if (root, name) in STDLIB:
            continue
        if root in prefect_names:
            refuse(node, f"reads the private attribute {name} of Prefect's {root}")
        elif node in in_subclass and (
            root in ("self", "cls") or isinstance(owner, ast.Call) and root == "super"
        ):
            if name not in in_subclass[node]:
                refuse(node, f"reads {name}, a private attribute of the Prefect class it extends")
        elif root not in ("self", "cls") and where.startswith("flows/"):
            # in the flows, what is not the module's own object is mostly Prefect's: a run,
            # a state, a client, a runner's part
            refuse(node, f"reads the private attribute {name} of {root or 'an object'}")
    return found


def check_module(node: ast.AST, module: str, refuse) -> None:
    parts = module.split(".")
    if any(private(part) for part in parts):
        refuse(node, f"imports the private module {module}")
    elif any(module == package or module.startswith(package + ".") for package in INTERNAL):
        refuse(node, f"imports {module}, internal to Prefect")


def own_attributes(cls: ast.ClassDef) -> set[str]:
    """The names a class defines itself: its methods, class attributes and the attributes
    its methods assign on ``self``."""
    own = set()
    for node in ast.walk(cls):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node is not cls:
            own.add(node.name)
        elif isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if isinstance(target, ast.Name):
                    own.add(target.id)
                elif isinstance(target, ast.Attribute) and root_name(target.value) == "self":
                    own.add(target.attr)
    return own


def test_flows_and_ppflow_use_prefects_public_api_only():
    found = []
    for path in SOURCES:
        where, source = path.relative_to(ROOT).as_posix(), path.read_text(encoding="utf-8")
        if "prefect" in source or where.startswith("flows/"):  # the others cannot reach it
            found += problems_in(source, where)
    assert found == [], "private Prefect API in use:\n" + "\n".join(found)


def test_the_scan_reads_every_module_of_the_flows():
    names = {p.relative_to(ROOT).as_posix() for p in SOURCES}
    assert {"flows/serving.py", "flows/decisions.py", "flows/answers.py"} <= names


@pytest.mark.parametrize(
    "source",
    [
        # what ppflow serve and the decisions once did, and their kin
        "from prefect.runner import Runner\n"
        "class OfficeRunner(Runner):\n"
        "    async def cancel_all(self):\n"
        "        manager = self._cancellation_manager\n",
        "from prefect.runner import Runner\n"
        "class OfficeRunner(Runner):\n"
        "    async def astop(self):\n"
        "        await super()._pause_schedules()\n",
        "def f(runner):\n    return runner._process_manager.flow_run_ids()\n",
        "from prefect.utilities.engine import propose_state_sync\n",
        "from prefect.utilities.schema_tools import validate\n",
        "import prefect.utilities.engine\n",
        "from prefect.runner._process_manager import ProcessManager\n",
        "from prefect._internal.concurrency.api import create_call\n",
        "from prefect.flow_engine import _runtime_subprocess_env\n",
        "import prefect\nprefect._internal\n",
        "from prefect import get_client\nget_client()._client\n",
        "def f(runner):\n    return getattr(runner, '_scheduled_run_poller')\n",
    ],
)
def test_a_private_use_is_caught(source):
    assert problems_in(source, "flows/example.py"), source


@pytest.mark.parametrize(
    "source",
    [
        "from prefect.runner import Runner\n"
        "class OfficeRunner(Runner):\n"
        "    def _own(self):\n"
        "        self._mine = 1\n"
        "        return self._mine, self._own\n",
        "import os\nos._exit(0)\n",
        "from prefect.input import keyset_from_base_key\n",
        "class Local:\n    def f(self):\n        return self._x\n",
        "from prefect.client.schemas.responses import SetStateStatus\n",
    ],
)
def test_public_uses_pass(source):
    assert problems_in(source, "flows/example.py") == []


# --------------------------------------------------- the pause a run proposes, in-process


class Answers:
    """A stand-in for Prefect's client that answers each state proposal in turn."""

    def __init__(self, *results):
        self.results, self.proposed = list(results), []

    def set_flow_run_state(self, flow_run_id, state, force=False):
        self.proposed.append((state.name, force))
        return self.results.pop(0)


def orchestrated(status: str, state=None, **details):
    from prefect.client.schemas import responses

    kinds = {
        "ACCEPT": responses.StateAcceptDetails,
        "REJECT": responses.StateRejectDetails,
        "ABORT": responses.StateAbortDetails,
        "WAIT": responses.StateWaitDetails,
    }
    return responses.OrchestrationResult(
        state=state, status=responses.SetStateStatus(status), details=kinds[status](**details)
    )


def test_a_pause_is_proposed_orchestrated_and_follows_the_servers_answer(monkeypatch):
    from prefect.exceptions import Abort
    from prefect.states import Paused, Running

    from ppflow_flows import decisions

    paused = Paused(pause_key="screening")
    client = Answers(
        orchestrated("WAIT", delay_seconds=0),  # asked to wait: proposed again
        orchestrated("ACCEPT", paused),
    )
    monkeypatch.setattr(decisions, "client", lambda: client)
    assert decisions._propose(Paused(pause_key="screening"), "run").is_paused()
    assert client.proposed == [("Paused", False), ("Paused", False)]  # never forced

    # refused because the run was answered in an earlier execution: the server's state
    client = Answers(orchestrated("REJECT", Running(), reason="already running"))
    monkeypatch.setattr(decisions, "client", lambda: client)
    assert decisions._propose(Paused(), "run").is_running()

    client = Answers(orchestrated("ABORT", reason="the run was deleted"))
    monkeypatch.setattr(decisions, "client", lambda: client)
    with pytest.raises(Abort, match="the run was deleted"):
        decisions._propose(Paused(), "run")
