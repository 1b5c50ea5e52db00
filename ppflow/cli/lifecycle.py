"""``ppflow lifecycle``: a lifecycle as a Mermaid diagram, from its transition table."""

from __future__ import annotations

from typing import Annotated

import typer

from ppflow.cli.errors import fail


def lifecycle(
    name: Annotated[str, typer.Argument(help="advisor, engagement or team")] = "advisor",
) -> None:
    """Print a lifecycle as a Mermaid state diagram, generated from its transition table."""
    from ppflow.domain.lifecycle import LIFECYCLES

    if name not in LIFECYCLES:
        fail(f"no lifecycle '{name}'; choose one of {', '.join(LIFECYCLES)}")
    print(LIFECYCLES[name][0].mermaid())
