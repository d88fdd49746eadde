"""Layer 3: the control server (an OONI-protocol test helper) built on the probe's network steps."""
