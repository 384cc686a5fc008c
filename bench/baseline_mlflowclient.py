"""Baseline (c): the same entities through MLflow's own MlflowClient.

Runs inside the MLflow virtualenv (the app never imports mlflow). The timer starts
after `import mlflow`, so interpreter start-up is not counted against MLflow.
"""

from __future__ import annotations

import json
import sys
import time

from mlflow.tracking import MlflowClient


def fetch_all(uri: str) -> dict[str, int]:
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    models = []
    token = None
    while True:
        page = client.search_registered_models(max_results=1000, page_token=token)
        models += list(page)
        token = page.token
        if not token:
            break
    versions = []
    token = None
    while True:
        vpage = client.search_model_versions(max_results=200_000, page_token=token)
        versions += list(vpage)
        token = vpage.token
        if not token:
            break
    runs = 0
    for v in versions:
        if v.run_id:
            client.get_run(v.run_id)
            runs += 1
    return {"models": len(models), "versions": len(versions), "runs": runs}


if __name__ == "__main__":
    started = time.perf_counter()
    counts = fetch_all(sys.argv[1].rstrip("/"))
    print(json.dumps({"seconds": time.perf_counter() - started, **counts}))
