"""What the checks run against: AWS clients, the endpoint resolver, settings and a sleep.

Built inside the guarded part of `run_hook` (a bad setting is a Failed report, not a silent
crash); tests build one from moto clients, stubs and a local HTTP server's address.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from codedeploy_hooks import aws
from codedeploy_hooks.network import AlbPrivateAddresses, EndpointResolver
from codedeploy_hooks.settings import Settings

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_codedeploy import CodeDeployClient
    from mypy_boto3_elbv2 import ElasticLoadBalancingv2Client
    from mypy_boto3_ssm import SSMClient


@dataclass(frozen=True)
class Dependencies:
    codedeploy: CodeDeployClient
    elbv2: ElasticLoadBalancingv2Client
    ssm: SSMClient
    cloudwatch: CloudWatchClient
    resolver: EndpointResolver
    settings: Settings
    # None: the checks wait on their deadline, so that a cancelled check stops waiting at once.
    sleep: Callable[[float], None] | None = None

    @classmethod
    def from_aws(cls) -> Dependencies:
        return cls(
            codedeploy=aws.codedeploy(),
            elbv2=aws.elbv2(),
            ssm=aws.ssm(),
            cloudwatch=aws.cloudwatch(),
            resolver=AlbPrivateAddresses(ec2=aws.ec2(), elbv2=aws.elbv2()),
            settings=Settings.from_environment(),
        )
