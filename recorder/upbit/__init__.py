"""Upbit: listing-title parsing and the announcement/market-list client pieces the watcher uses."""
