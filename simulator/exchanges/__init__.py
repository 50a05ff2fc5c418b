"""Local fakes of the twelve markets, speaking their real wire formats over TLS (see `simulator`)."""

from simulator.exchanges.model import Listing
from simulator.exchanges.pricing import PricePath
from simulator.exchanges.server import MALFORMED_KINDS
from simulator.exchanges.simulator import VENUES, ExchangeSimulator
from simulator.exchanges.tls import client_ssl_context

__all__ = ["MALFORMED_KINDS", "VENUES", "ExchangeSimulator", "Listing", "PricePath", "client_ssl_context"]
