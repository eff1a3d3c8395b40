#!/usr/bin/env python3
"""Generates a rule file for the side-by-side benchmark: GROUPS groups of PER_GROUP rules.

With --alerting-only every rule alerts (`for: 0`, so every returned series fires at once);
otherwise rules alternate alerting (`for: 10s`, two labels, two templated annotations)
and recording.

Usage: rules.py GROUPS PER_GROUP INTERVAL [--alerting-only] > rules.yml
"""
import sys


def alerting(g, r, for_):
    return [
        f"      - alert: Bench_{g}_{r}",
        f'        expr: up{{job="bench", rule="{r}"}} == 0',
        f"        for: {for_}",
        "        labels:",
        "          severity: warning",
        '          zone: "{{ $labels.zone }}"',
        "        annotations:",
        '          summary: "{{ $labels.instance }} of {{ $labels.job }} is down ({{ $value | humanize }})"',
        '          description: "{{ $labels.pod }} in {{ $labels.namespace }} has been down for a while."',
    ]


def recording(g, r):
    return [
        f"      - record: bench:up:g{g}_r{r}",
        f'        expr: up{{job="bench", rule="{r}"}}',
    ]


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    alerting_only = "--alerting-only" in sys.argv
    groups, per_group, interval = int(args[0]), int(args[1]), args[2]
    out = ["groups:"]
    for g in range(groups):
        out += [f"  - name: bench-{g}", f"    interval: {interval}", "    rules:"]
        for r in range(per_group):
            if alerting_only:
                out += alerting(g, r, "0s")
            elif r % 2 == 0:
                out += alerting(g, r, "10s")
            else:
                out += recording(g, r)
    print("\n".join(out))


if __name__ == "__main__":
    main()
