"""What an MLflow server accepts: REST paths and the limits its handlers enforce.

Numbers come from MLflow 3.17 (mlflow/server/handlers.py, mlflow/utils/validation.py,
mlflow/store/model_registry/__init__.py); staying inside them avoids 400s on big
portfolios.
"""

from __future__ import annotations

API = "/api/2.0/mlflow"
# get-history-bulk only exists under the UI's ajax prefix; it is by far the cheapest way
# to read histories (one query for up to 100 runs), so it is worth the less stable path.
HISTORY_BULK_PATH = "/ajax-api/2.0/mlflow/metrics/get-history-bulk"

REGISTERED_MODELS_PAGE_MAX = 1000  # registered-models/search rejects more
MODEL_VERSIONS_PAGE_MAX = 200_000  # SEARCH_MODEL_VERSION_MAX_RESULTS_THRESHOLD
RUNS_PAGE_MAX = 50_000  # runs/search rejects max_results above this
EXPERIMENTS_PAGE_MAX = 50_000  # the SQL store's cap for experiments/search
HISTORY_RUNS_MAX = 100  # get-history-bulk refuses more run ids than this
HISTORY_POINTS_MAX = 25_000  # get-history-bulk silently truncates its answer here

MAX_METRICS_PER_BATCH = 1000
MAX_PARAMS_TAGS_PER_BATCH = 100
MAX_ENTITIES_PER_BATCH = 1000
# log-batch refuses bodies over 1,000,000 bytes; leave room for the envelope.
MAX_BATCH_BYTES = 900_000
MAX_DATASETS_PER_CALL = 1000

# The input tag MLflow uses to say what a dataset was used for (training, evaluation...).
DATASET_CONTEXT_TAG = "mlflow.data.context"
