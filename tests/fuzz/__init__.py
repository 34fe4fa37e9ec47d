"""fuzz tests (hardening)."""
