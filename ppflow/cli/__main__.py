"""``python -m ppflow.cli``."""

from ppflow.cli import main

main()
