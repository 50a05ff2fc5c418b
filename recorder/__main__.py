"""`python -m recorder` is the `pumpwatch` command."""

from recorder.cli import main

main()
