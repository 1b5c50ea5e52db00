"""Domain errors. Each message names what a coordinator needs to fix the problem."""

from __future__ import annotations

from collections.abc import Iterable


class PPFlowError(Exception):
    """Base class of every error ppflow raises on purpose."""


class IllegalTransitionError(PPFlowError):
    def __init__(self, entity: str, current: str, requested: str, allowed: Iterable[str]):
        self.entity = entity
        self.current = current
        self.requested = requested
        self.allowed = tuple(allowed)
        allowed_text = ", ".join(self.allowed) if self.allowed else "none (final state)"
        super().__init__(
            f"{entity}: cannot move from '{current}' to '{requested}'; "
            f"allowed from '{current}': {allowed_text}"
        )


class GuardFailedError(PPFlowError):
    def __init__(self, entity: str, current: str, requested: str, missing: Iterable[str]):
        self.entity = entity
        self.current = current
        self.requested = requested
        self.missing = tuple(missing)
        super().__init__(
            f"{entity}: cannot move from '{current}' to '{requested}': " + "; ".join(self.missing)
        )


class ConcurrentUpdateError(PPFlowError):
    def __init__(self, entity: str):
        self.entity = entity
        super().__init__(
            f"{entity} was changed by someone else at the same time; nothing was written. "
            "Reload it and try again."
        )


class NotFoundError(PPFlowError):
    def __init__(self, kind: str, key: str):
        self.kind = kind
        self.key = key
        super().__init__(f"no {kind} '{key}'")


class DuplicateError(PPFlowError):
    pass


class AlreadyRegisteredError(DuplicateError):
    """The person is in the pool already (same e-mail address or phone): one person, one
    code. A closed file (declined, not retained) is reopened rather than registered twice."""

    def __init__(self, found: dict[str, str]):
        self.found = dict(found)  # advisor code -> stage
        super().__init__("already in the pool as " + already_in_pool(self.found))


def already_in_pool(found: dict[str, str]) -> str:
    """``PA-… (declined; reopen it: ppflow advisor reopen PA-… --reason "…")``, for each
    code the person already has, with the way to go on when their file is closed."""
    closed = ("declined", "not_retained")
    return "; ".join(
        f'{code} ({stage}; reopen it: ppflow advisor reopen {code} --reason "…")'
        if stage in closed
        else f"{code} (same e-mail or phone)"
        for code, stage in sorted(found.items())
    )


class InvalidInputError(PPFlowError):
    pass
