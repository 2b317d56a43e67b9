"""The first deploy completes in every egress mode while the service repositories are empty.

Creating an ECS service makes CloudFormation wait until the service runs its desired count of
tasks. On the first deploy those tasks run the bootstrap image, pulled through an ECR
pull-through cache rule, and the ECR user guide says the first pull through a cache rule from a
VPC that reaches ECR over interface endpoints needs a route to a NAT gateway; later pulls do not
(https://docs.aws.amazon.com/AmazonECR/latest/userguide/vpc-endpoints.html). So a service whose
creation starts tasks must be able to make that first pull in its egress mode.
"""

from __future__ import annotations

import functools

import pytest

from tests.template.stack_updates import ROOT, SERVICE, SERVICE_STACKS, nested_parameters
from tools.cfn_render import Renderer
from tools.rehearsal.system import load_system

EGRESS_MODES = ROOT["Parameters"]["EgressMode"]["AllowedValues"]
ENVIRONMENTS = ("Staging", "Production")
# AWS::ECS::Service: "For new services, if a desired count is not specified, a default value of 1
# is used." (CloudFormation template reference, DesiredCount)
DEFAULT_DESIRED_COUNT = 1


@functools.cache  # rendering the whole system takes about a second
def tasks_can_reach_the_internet(mode: str) -> bool:
    """What the release rehearsal reads from the rendered network stack (one rule for both)."""
    return load_system({"EgressMode": mode}).bootstrap_pull_possible


def first_image(stack: str, environment: str) -> str:
    """The image the environment's bootstrap task definition runs, as the root passes it."""
    parameters = nested_parameters(Renderer(ROOT, {}), stack)
    service = Renderer(SERVICE, parameters)
    definition = SERVICE["Resources"][f"{environment}TaskDefinition"]["Properties"]
    (container,) = service.render(definition["ContainerDefinitions"])
    image: str = container["Image"]
    return image


def tasks_started_at_creation(environment: str) -> int:
    """The desired count the service is created with, for the root's default parameters."""
    service = Renderer(SERVICE, nested_parameters(Renderer(ROOT, {}), SERVICE_STACKS[0]))
    properties = SERVICE["Resources"][f"{environment}Service"]["Properties"]
    return int(service.render(properties.get("DesiredCount", DEFAULT_DESIRED_COUNT)))


@pytest.mark.parametrize("stack", SERVICE_STACKS)
@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_the_bootstrap_image_comes_through_the_pull_through_cache_rule(
    stack: str, environment: str
) -> None:
    # THEN the first task definitions run an image of the bootstrap cache rule's prefix in this
    # account's private registry (the premise of the test below)
    image = first_image(stack, environment)
    assert image.startswith(
        "123456789012.dkr.ecr.eu-west-1.amazonaws.com/<BootstrapImageCacheRule>/"
    )


@pytest.mark.parametrize("mode", EGRESS_MODES)
@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_no_service_creation_waits_on_an_image_pull_its_egress_mode_cannot_make(
    mode: str, environment: str
) -> None:
    # GIVEN the egress mode and whether the service starts tasks when it is created
    first_pull_possible = tasks_can_reach_the_internet(mode)
    waits_on_a_pull = tasks_started_at_creation(environment) > 0

    # THEN creating the service waits on a pull through the cache rule only where the tasks can
    # make that first pull; otherwise the service never stabilises and the stack rolls back
    assert first_pull_possible or not waits_on_a_pull, (
        f"{environment}Service starts tasks at creation, but in {mode} mode they cannot make "
        "the first pull through the bootstrap cache rule (it needs a NAT route)"
    )


def test_the_egress_modes_differ_as_the_ecr_guide_requires() -> None:
    # THEN only VpcEndpoints lacks the internet path a first pull-through needs, so the test
    # above guards exactly the default mode
    assert {mode: tasks_can_reach_the_internet(mode) for mode in EGRESS_MODES} == {
        "VpcEndpoints": False,
        "NatGateway": True,
        "PublicSubnets": True,
    }


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_application_auto_scaling_starts_the_tasks_after_creation(
    environment: str,
) -> None:
    # GIVEN the service created without tasks
    assert tasks_started_at_creation(environment) == 0

    # THEN a scalable target on it exists, whose registration moves the count into its range
    # without CloudFormation waiting for the tasks
    targets = [
        resource["Properties"]
        for resource in SERVICE["Resources"].values()
        if resource["Type"] == "AWS::ApplicationAutoScaling::ScalableTarget"
        and f"{environment}Service.Name" in resource["Properties"]["ResourceId"]["Fn::Sub"]
    ]
    assert len(targets) == 1
    minimum = Renderer(SERVICE, {"DesiredCount": 2}).render(targets[0]["MinCapacity"])
    assert minimum >= 1
