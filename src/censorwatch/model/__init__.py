"""Layer 1: plain data. Standard library only, no I/O."""
