"""``ppflow keygen``: a key to sign the survey and withdrawal links with."""

from __future__ import annotations


def keygen() -> None:
    """Print a new signing key for the personal links (PPFLOW_PORTAL__SIGNING_KEY).

    32 random bytes with a checksum, behind the prefix ppflow_. Outside development only
    keys made this way are accepted. Keep it secret: whoever holds it can make links.
    """
    from ppflow.services.links import make_key

    print(make_key())
