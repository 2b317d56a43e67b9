"""Logger and metrics shared by both hooks (built once, here)."""

from __future__ import annotations

import os

from aws_lambda_powertools import Logger, Metrics

logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME", "codedeploy-hooks"))
metrics = Metrics(
    namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "MicroservicesPipeline"),
    service=os.environ.get("POWERTOOLS_SERVICE_NAME", "codedeploy-hooks"),
)
