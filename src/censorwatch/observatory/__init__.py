"""Layer 4b, between ``web`` and ``cli``: the observatory, one supervised service for a deployment.

It runs the collector's intake (its writer and HTTP front-end processes), owns the store (one thread
of this process writes it: ``pipeline.live``), and serves the dashboard, the JSON API, the feed, the
admin API, ``/healthz`` and ``/metrics`` from the same process (docs/observatory.md). ``client``
is how the CLI reaches a running observatory instead of the store it holds.
"""
