"""Logger, metrics and tracer, built once for the whole package and configured by Powertools' own
environment variables (POWERTOOLS_SERVICE_NAME, POWERTOOLS_METRICS_NAMESPACE, POWERTOOLS_LOG_LEVEL,
set in template.yaml)."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer

logger = Logger()
metrics = Metrics()
# boto3's calls are botocore's: each AWS read and write becomes an X-Ray subsegment.
tracer = Tracer(patch_modules=["botocore"])
