"""Instrument lists per market: the shared model, parsing helpers and fetch loop; each exchange's parser lives in `recorder.exchanges`."""
