"""Build an empty MLflow tracking store (SQLite) at the path given: the image's template."""

from __future__ import annotations

import sys

from mlflow import MlflowClient


def main(path: str) -> None:
    uri = f"sqlite:///{path}"
    # Opening the store creates its tables (and runs its migrations) and the Default
    # experiment; nothing else is written.
    MlflowClient(tracking_uri=uri, registry_uri=uri).search_experiments()


if __name__ == "__main__":
    main(sys.argv[1])
