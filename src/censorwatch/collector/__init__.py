"""Layer 3: the collector (HTTP intake, single batching writer) and its evidence (transparency) log."""
