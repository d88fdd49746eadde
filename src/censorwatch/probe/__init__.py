"""Layer 2: the probe: async network steps and experiments."""
