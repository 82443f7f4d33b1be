"""Library patches, one module per library, each held once.

Each patch names the upstream method(s) it replaces, why, and the figure that justifies it, and
records a digest of that upstream source as the pinned version (requirements.txt) has it:
tests/test_runtime_patches.py fails when an upgrade changes or removes any of them, so the
upgrader re-checks the patch and re-runs bench/ocpp_bench.py (P1 and P2) instead of finding out
in production.
"""
