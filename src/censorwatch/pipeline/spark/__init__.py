"""The Spark engine (``censorwatch analyze --engine spark``); needs ``pyspark`` and Java 17."""
