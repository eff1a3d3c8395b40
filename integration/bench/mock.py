#!/usr/bin/env python3
"""Writes a tiny nginx site that stands in for a datasource, an Alertmanager and a
remote-write receiver, so that only the evaluator's own work is measured.

The datasource answers every instant query (GET or POST /api/v1/query) with the same
canned vector of SERIES series and every range query with an empty matrix (enough for
a replay to run); /api/v2/alerts and /api/v1/write accept and discard.
Every instant query is logged, one line each, to DIR/query.log: the benchmark counts
rule evaluations there, the same way for every evaluator, even when one is too loaded
to answer its own /metrics.

Usage: mock.py DIR PORT SERIES   → prints the path of DIR/nginx.conf
"""
import json
import os
import sys
import time


def answer(n):
    # Label shapes like a Kubernetes scrape: enough labels that decoding and hashing
    # cost what they cost in production, all values distinct per series.
    now = round(time.time(), 3)
    result = []
    for i in range(n):
        metric = {
            "__name__": "up",
            "job": "bench",
            "instance": f"10.1.{i // 250}.{i % 250}:9100",
            "zone": f"z{i % 3}",
            "namespace": f"ns-{i % 7}",
            "pod": f"api-{i:05d}",
        }
        result.append({"metric": metric, "value": [now, "0"]})
    return {"status": "success", "data": {"resultType": "vector", "result": result}}


def main():
    d, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    os.makedirs(d, exist_ok=True)
    os.chmod(d, 0o755)  # nginx workers may run unprivileged
    with open(os.path.join(d, "query.json"), "w") as f:
        json.dump(answer(n), f, separators=(",", ":"))
    # nginx serves static files for GET only; a POST gets 405, which error_page turns
    # into an internal GET of the same file, answered 200.
    conf = f"""worker_processes 1;
daemon off;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  log_format ql '$msec';
  client_body_temp_path {d}/body;
  proxy_temp_path {d}/proxy;
  fastcgi_temp_path {d}/fastcgi;
  uwsgi_temp_path {d}/uwsgi;
  scgi_temp_path {d}/scgi;
  keepalive_requests 10000000;
  keepalive_timeout 300s;
  client_max_body_size 64m;
  client_body_buffer_size 4m;
  server {{
    listen 127.0.0.1:{port};
    location = /api/v1/query {{
      access_log {d}/query.log ql;
      default_type application/json;
      alias {d}/query.json;
      error_page 405 =200 $uri;
    }}
    location = /api/v1/query_range {{
      default_type application/json;
      return 200 '{{"status":"success","data":{{"resultType":"matrix","result":[]}}}}';
    }}
    location = /api/v2/alerts {{ return 200 ''; }}
    location = /api/v1/write {{ return 204; }}
    location / {{ return 200 'ok'; }}
  }}
}}
"""
    path = os.path.join(d, "nginx.conf")
    with open(path, "w") as f:
        f.write(conf)
    print(path)


if __name__ == "__main__":
    main()
