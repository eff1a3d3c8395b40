#!/usr/bin/env python3
"""Writes a rule file and a promtool unit-test file with N test groups that exercise it.

Usage: mkruletests.py DIR [N]   (default 200)

Each test group feeds five series an hour of samples at one minute, then checks three
alerts (`for`, `keep_firing_for`, templated labels and annotations) and three
expressions (recorded series, ALERTS) at several times; every check passes, so the
timing covers a full run.
"""
import os
import sys

RULES = """groups:
  - name: availability
    rules:
      - alert: InstanceDown
        expr: up == 0
        for: 5m
        labels:
          severity: page
        annotations:
          summary: "Instance {{ $labels.instance }} down"
          description: "{{ $labels.instance }} of job {{ $labels.job }} is down ({{ $value }})."
      - alert: Flapping
        expr: changes(up[10m]) > 2
        keep_firing_for: 10m
        labels:
          severity: warning
        annotations:
          summary: "{{ $labels.instance }} changed state {{ $value }} times"
  - name: latency
    rules:
      - record: job:latency_seconds:max
        expr: max by (job) (latency_seconds)
      - record: job:requests:rate5m
        expr: sum by (job) (rate(requests_total[5m]))
      - alert: HighLatency
        expr: job:latency_seconds:max > 0.5
        for: 2m
        labels:
          severity: '{{ if gt $value 2.0 }}critical{{ else }}warning{{ end }}'
        annotations:
          summary: "{{ $labels.job }}: {{ $value | humanizeDuration }}"
"""


def group(i):
    job = f"job{i}"
    return f"""  - name: test {i}
    interval: 1m
    input_series:
      - series: 'up{{job="{job}", instance="a:{i}"}}'
        values: '1x10 0x50'
      - series: 'up{{job="{job}", instance="b:{i}"}}'
        values: '1 0 1 0 1x56'
      - series: 'latency_seconds{{job="{job}", instance="a:{i}"}}'
        values: '0.1x10 0.7+0.1x50'
      - series: 'requests_total{{job="{job}", instance="a:{i}"}}'
        values: '0+60x60'
      - series: 'requests_total{{job="{job}", instance="b:{i}"}}'
        values: '0+120x60'
    alert_rule_test:
      - eval_time: 20m
        alertname: InstanceDown
        exp_alerts:
          - exp_labels: {{severity: page, instance: "a:{i}", job: {job}}}
            exp_annotations:
              summary: "Instance a:{i} down"
              description: "a:{i} of job {job} is down (0)."
      - eval_time: 12m
        alertname: Flapping
        exp_alerts:
          - exp_labels: {{severity: warning, instance: "b:{i}", job: {job}}}
            exp_annotations: {{summary: "b:{i} changed state 3 times"}}
      - eval_time: 13m
        alertname: HighLatency
        exp_alerts:
          - exp_labels: {{severity: warning, job: {job}}}
            exp_annotations: {{summary: "{job}: 900ms"}}
    promql_expr_test:
      - expr: job:requests:rate5m
        eval_time: 30m
        exp_samples:
          - labels: 'job:requests:rate5m{{job="{job}"}}'
            value: 3
      - expr: count by (alertstate) (ALERTS)
        eval_time: 60m
        exp_samples:
          - labels: '{{alertstate="firing"}}'
            value: 2
      - expr: job:latency_seconds:max
        eval_time: 40m
        exp_samples:
          - labels: 'job:latency_seconds:max{{job="{job}"}}'
            value: 3.600000000000002
"""


def main():
    out = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 200
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "rules.yml"), "w") as f:
        f.write(RULES)
    with open(os.path.join(out, "tests.yml"), "w") as f:
        f.write("rule_files: [rules.yml]\nevaluation_interval: 1m\nfuzzy_compare: true\ntests:\n")
        for i in range(n):
            f.write(group(i))


main()
