"""What the checks run against: AWS clients, the endpoint resolver, the HTTP probe and settings.

Built inside the guarded part of the runner (a bad setting is a Failed report, not a silent
crash); tests and the release rehearsal build their own from fakes.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from codedeploy_hooks.checks.http_probe import ProbeResult, probe
from codedeploy_hooks.checks.network import AlbPrivateAddresses, Endpoint, EndpointResolver
from codedeploy_hooks.clients import default_clients
from codedeploy_hooks.settings import Settings

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_codedeploy import CodeDeployClient
    from mypy_boto3_elbv2 import ElasticLoadBalancingv2Client
    from mypy_boto3_ssm import SSMClient

# One GET of `path` at an endpoint, within `timeout` seconds.
Probe = Callable[[Endpoint, str, float], ProbeResult]


@dataclass(frozen=True)
class Dependencies:
    codedeploy: CodeDeployClient
    elbv2: ElasticLoadBalancingv2Client
    ssm: SSMClient
    cloudwatch: CloudWatchClient
    resolver: EndpointResolver
    settings: Settings
    probe: Probe = probe

    @classmethod
    def from_aws(cls) -> Dependencies:
        clients = default_clients()
        return cls(
            codedeploy=clients.codedeploy,
            elbv2=clients.elbv2,
            ssm=clients.ssm,
            cloudwatch=clients.cloudwatch,
            resolver=AlbPrivateAddresses(ec2=clients.ec2, elbv2=clients.elbv2),
            settings=Settings.from_environ(os.environ),
        )
