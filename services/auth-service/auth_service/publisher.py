"""Publishing the public key set to SSM, retried in the background until it succeeds."""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

if TYPE_CHECKING:
    from mypy_boto3_ssm import SSMClient

logger = logging.getLogger(__name__)

MAX_RETRY_SECONDS = 30.0


@dataclass
class JwksPublisher:
    """Writes the JWKS to `parameter_name`; `published` is what /health reports."""

    # None exactly when parameter_name is: nothing to publish (local runs).
    ssm: SSMClient | None
    parameter_name: str | None
    jwks: dict[str, Any]
    published: bool = False
    attempts: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        if self.parameter_name is not None and self.ssm is None:
            raise ValueError(f"publishing to {self.parameter_name} needs an SSM client")

    def publish_once(self) -> bool:
        if self.parameter_name is None or self.ssm is None:  # __post_init__: both or neither
            self.published = True
            return True
        self.attempts += 1
        try:
            self.ssm.put_parameter(
                Name=self.parameter_name,
                Value=json.dumps(self.jwks, separators=(",", ":")),
                Type="String",
                Overwrite=True,
                Description="auth-service public signing keys (JWKS)",
            )
        except (BotoCoreError, ClientError) as error:
            logger.warning(
                "publishing the key set failed",
                extra={"parameter": self.parameter_name, "error": type(error).__name__},
            )
            return False
        self.published = True
        logger.info("published the key set", extra={"parameter": self.parameter_name})
        return True

    async def publish_until_done(self, first_delay: float = 1.0) -> None:
        """Retry with capped exponential backoff; cancelled when the service stops."""
        delay = first_delay
        while not await asyncio.to_thread(self.publish_once):
            await asyncio.sleep(delay)
            delay = min(delay * 2, MAX_RETRY_SECONDS)
