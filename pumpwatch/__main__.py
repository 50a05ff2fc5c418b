"""`python -m pumpwatch` is the `pumpwatch` command."""

from pumpwatch.cli import main

main()
