"""Performance benchmark of the API against PostgreSQL (see bench/README.md)."""
