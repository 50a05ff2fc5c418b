"""Local fakes of the twelve markets, speaking their real wire formats over TLS (see `simulator`)."""

from recorder.simulator.exchanges.model import Listing
from recorder.simulator.exchanges.pricing import PricePath
from recorder.simulator.exchanges.server import MALFORMED_KINDS
from recorder.simulator.exchanges.simulator import VENUES, ExchangeSimulator
from recorder.simulator.exchanges.tls import client_ssl_context

__all__ = ["MALFORMED_KINDS", "VENUES", "ExchangeSimulator", "Listing", "PricePath", "client_ssl_context"]
