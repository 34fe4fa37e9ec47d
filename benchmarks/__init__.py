"""Benchmarks for mimewire and ringfax against their peers.

Run ``python -m benchmarks`` (full: 64 MiB and 1 GiB bodies) or ``python -m benchmarks --quick``.
Every measurement runs in its own child process (so one case cannot inflate another's peak RSS),
libraries are interleaved round by round (CPU speed on shared machines flips ~1.7x, so medians
and same-round ratios are what count), and the report goes to ``benchmarks/results/``.
"""
