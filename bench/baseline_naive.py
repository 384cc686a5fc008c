"""Baseline (b): what a person would write by hand with requests.

Paginated searches at the maximum page size, then one runs/get per version,
sequentially. Prints the elapsed seconds and the entity counts as JSON.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

import requests


def fetch_all(base: str) -> dict[str, int]:
    s = requests.Session()
    models: list[dict[str, object]] = []
    token = None
    while True:
        params: dict[str, Any] = {"max_results": 1000}
        if token:
            params["page_token"] = token
        r = s.get(f"{base}/api/2.0/mlflow/registered-models/search", params=params, timeout=60)
        r.raise_for_status()
        body = r.json()
        models += body.get("registered_models", [])
        token = body.get("next_page_token")
        if not token:
            break
    versions: list[dict[str, object]] = []
    token = None
    while True:
        params = {"max_results": 200_000}
        if token:
            params["page_token"] = token
        r = s.get(f"{base}/api/2.0/mlflow/model-versions/search", params=params, timeout=300)
        r.raise_for_status()
        body = r.json()
        versions += body.get("model_versions", [])
        token = body.get("next_page_token")
        if not token:
            break
    runs = 0
    for v in versions:
        run_id = str(v.get("run_id") or "")
        if run_id:
            r = s.get(f"{base}/api/2.0/mlflow/runs/get", params={"run_id": run_id}, timeout=60)
            r.raise_for_status()
            runs += 1
    return {"models": len(models), "versions": len(versions), "runs": runs}


if __name__ == "__main__":
    started = time.perf_counter()
    counts = fetch_all(sys.argv[1].rstrip("/"))
    print(json.dumps({"seconds": time.perf_counter() - started, **counts}))
