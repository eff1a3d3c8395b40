#!/usr/bin/env python3
"""The replay and backtest benchmarks' data, in Prometheus' text format with timestamps
(what VictoriaMetrics' /api/v1/import/prometheus reads), on stdout.

Usage: replay_data.py FROM TO SERIES  (FROM and TO in seconds since the epoch)

SERIES series load{instance="iN",job="jobN%10"}, one sample a minute from FROM to TO
inclusive: a sine wave between 0.05 and 0.95 with its own phase per series, plus a
spike of 0.2 for 20 minutes in every 600 (at a different minute per series), so that
`load > 1.0` fires now and then. Used by integration/bench/replay-vs-vmalert.sh,
integration/bench/backtest-vs-replay.sh and tests/backtest.rs, with the rules of
integration/bench/replay-rules.yml.
"""
import math
import sys


def main():
    start, end, n = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    out = sys.stdout
    for i in range(n):
        job = f"job{i % 10}"
        phase = i * 0.37
        lines = []
        for t in range(start, end + 1, 60):
            m = (t - start) // 60
            spike = 0.2 if (m + i * 17) % 600 < 20 else 0.0
            v = 0.5 + 0.45 * math.sin(m / 90.0 + phase) + spike
            lines.append(f'load{{instance="i{i}",job="{job}"}} {v:.4f} {t * 1000}\n')
        out.write("".join(lines))


if __name__ == "__main__":
    main()
