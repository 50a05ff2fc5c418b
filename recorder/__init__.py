"""The always-on side of PumpWatch: symbol universe, feeds, store writers, the Upbit watcher, the service."""

__version__ = "0.1.0"
