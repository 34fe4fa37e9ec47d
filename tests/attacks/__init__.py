"""attacks tests (hardening)."""
