"""Where the smoke test sends its requests.

The ALB is internet-facing: its DNS name resolves to public addresses that a Lambda in private
subnets cannot reach without a NAT gateway (and security-group references do not apply to traffic
that hairpins through public addresses). Every ALB also has one network interface per subnet with a
private address in the VPC, described `ELB app/<name>/<id>`; the hooks run in the VPC and send to
those, with the Host header of the ALB's DNS name. That path works in every egress mode.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from codedeploy_hooks.errors import NoLoadBalancerAddressError

if TYPE_CHECKING:
    from mypy_boto3_ec2 import EC2Client
    from mypy_boto3_elbv2 import ElasticLoadBalancingv2Client

    from codedeploy_hooks.checks.load_balancing import Listener


@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int
    host_header: str


class EndpointResolver(Protocol):
    def resolve(self, listener: Listener) -> list[Endpoint]: ...


def interface_description(load_balancer_arn: str) -> str:
    """arn:aws:elasticloadbalancing:r:a:loadbalancer/app/<name>/<id> -> `ELB app/<name>/<id>`."""
    _, _, resource = load_balancer_arn.partition(":loadbalancer/")
    kind, _, rest = resource.partition("/")
    name, _, balancer_id = rest.partition("/")
    if kind != "app" or not name or not balancer_id or "/" in balancer_id:
        raise NoLoadBalancerAddressError(
            f"{load_balancer_arn!r} is not an application load balancer ARN"
        )
    return f"ELB app/{name}/{balancer_id}"


class AlbPrivateAddresses:
    """Resolves a listener to the private addresses of its load balancer's interfaces."""

    def __init__(self, ec2: EC2Client, elbv2: ElasticLoadBalancingv2Client) -> None:
        self._ec2 = ec2
        self._elbv2 = elbv2

    def resolve(self, listener: Listener) -> list[Endpoint]:
        balancers = self._elbv2.describe_load_balancers(
            LoadBalancerArns=[listener.load_balancer_arn]
        )["LoadBalancers"]
        if not balancers:
            raise NoLoadBalancerAddressError(
                f"load balancer {listener.load_balancer_arn} not found"
            )
        dns_name = balancers[0]["DNSName"]
        description = interface_description(listener.load_balancer_arn)
        interfaces = self._ec2.describe_network_interfaces(
            Filters=[{"Name": "description", "Values": [description]}]
        )["NetworkInterfaces"]
        addresses = sorted(
            {iface["PrivateIpAddress"] for iface in interfaces if iface.get("PrivateIpAddress")}
        )
        if not addresses:
            raise NoLoadBalancerAddressError(f"no network interface described {description!r}")
        return [
            Endpoint(host=address, port=listener.port, host_header=dns_name)
            for address in addresses
        ]
