"""The PumpWatch application: the service, the `pumpwatch` command, the status endpoint, the Upbit watcher, the demo.

It wires the recorder (`recorder`), extraction (`extractor`), analysis (`analysis`) and, for the
demo, the simulator (`simulator`) together; none of those imports it.
"""
