"""Finding the ALB's private addresses, which the hooks in the VPC send smoke requests to."""

from __future__ import annotations

import pytest
from codedeploy_hooks.checks.load_balancing import describe_listener
from codedeploy_hooks.checks.network import AlbPrivateAddresses, interface_description
from codedeploy_hooks.errors import NoLoadBalancerAddressError

from tests.unit.hooks.fakes import World, client

ARN = "arn:aws:elasticloadbalancing:us-east-1:123456789012:"


def test_resolver_returns_the_private_address_of_each_alb_interface_on_the_listener_port(
    world: World,
) -> None:
    # GIVEN the ALB's two interfaces (and an unrelated one) in moto
    resolver = AlbPrivateAddresses(ec2=client("ec2"), elbv2=client("elbv2"))
    listener = describe_listener(client("elbv2"), world.test_listener_arn)

    # WHEN the test listener is resolved
    endpoints = resolver.resolve(listener)

    # THEN only the ALB's addresses come back, on the test port, named by the ALB's DNS name
    assert sorted(endpoint.host for endpoint in endpoints) == sorted(world.interface_addresses)
    assert {endpoint.port for endpoint in endpoints} == {8080}
    assert {endpoint.host_header for endpoint in endpoints} == {world.load_balancer_dns}


def test_resolver_fails_clearly_when_the_alb_has_no_interfaces(world: World) -> None:
    # GIVEN the ALB's interfaces are gone
    ec2 = client("ec2")
    for interface in ec2.describe_network_interfaces()["NetworkInterfaces"]:
        if interface["Description"].startswith("ELB app/"):
            ec2.delete_network_interface(NetworkInterfaceId=interface["NetworkInterfaceId"])
    resolver = AlbPrivateAddresses(ec2=ec2, elbv2=client("elbv2"))
    listener = describe_listener(client("elbv2"), world.test_listener_arn)

    # WHEN / THEN
    with pytest.raises(NoLoadBalancerAddressError, match="ELB app/pipeline-dev/"):
        resolver.resolve(listener)


def test_interface_description_is_derived_from_the_load_balancer_arn() -> None:
    arn = f"{ARN}loadbalancer/app/alb-dev/50dc6c495c0c9188"
    assert interface_description(arn) == "ELB app/alb-dev/50dc6c495c0c9188"


@pytest.mark.parametrize(
    "arn",
    [
        f"{ARN}loadbalancer/net/nlb/50dc6c495c0c9188",
        f"{ARN}loadbalancer/app/alb-dev",
        f"{ARN}loadbalancer/app/alb-dev/50dc6c495c0c9188/extra",
        f"{ARN}targetgroup/tg/50dc6c495c0c9188",
        "",
    ],
)
def test_interface_description_rejects_anything_but_an_alb_arn(arn: str) -> None:
    with pytest.raises(NoLoadBalancerAddressError):
        interface_description(arn)
