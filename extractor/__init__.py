"""Post-hoc extraction: window reads, coverage verdicts, event folders, the `extract` CLI."""
