"""cryptofeed feed instances for one market, one module per job (file:line refer to cryptofeed 3.0.1 as installed).

- `events`: what the feeds report: connections up/down, the subscription report;
- `endpoints`: endpoint addresses rewritten to the configured bases, the TLS HTTP connection;
- `supervised_ws`: the websocket connection that reconnects with capped backoff and reports up/down;
- `feed_class`: the cryptofeed subclass per market carrying our endpoints, TLS and hooks;
- `shards`: how a market's symbols are split into feed instances and connections;
- `market`: `MarketFeeds`, every feed instance of one market under supervision.

What differs per exchange (keepalive, reply checks, symbol rules, connections per instance) is read
from the exchange's module (`recorder.exchanges`).
"""
