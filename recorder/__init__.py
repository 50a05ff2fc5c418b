"""The recording side of PumpWatch: symbol universe, feeds, normalizer, store writers, coverage, gap repair.

It imports no other in-house package; the application (`pumpwatch`) runs it.
"""

__version__ = "0.1.0"
