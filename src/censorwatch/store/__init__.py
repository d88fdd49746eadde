"""Layer 2: storage. The only package that knows SQL and files (reader, DuckDB, Parquet)."""
