"""interop tests (hardening)."""
