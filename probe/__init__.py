"""vigie-probe: a vantage point at another site (SPEC-2 §10, docs/probes.md).

As lean as the agent and built from its parts (Python 3.9+): the agent's TOML reader,
spool and sender with failover, and its ICMP code; it never imports the collector.
"""
