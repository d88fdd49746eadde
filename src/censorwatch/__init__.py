"""censorwatch: measure, classify, detect and document internet censorship."""

__version__ = "0.1.0"
