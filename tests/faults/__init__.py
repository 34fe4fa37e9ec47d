"""faults tests (hardening)."""
