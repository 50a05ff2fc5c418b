"""Instrument lists per market, parsed from each exchange's own REST payloads."""
