"""Logger and metrics, built once for the whole package."""

from __future__ import annotations

import os

from aws_lambda_powertools import Logger, Metrics

SERVICE = "health-check"

logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME", SERVICE))
# The template sets the namespace; the fallback keeps local runs and tests from failing on flush.
metrics = Metrics(
    namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "MicroservicesPipeline"),
    service=SERVICE,
)
