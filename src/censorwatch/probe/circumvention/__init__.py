"""Circumvention protocols: WireGuard, OpenVPN and Tor handshakes as pure message builders/checkers."""
