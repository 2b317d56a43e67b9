"""pipeline/network.yaml: VPC, egress modes, security groups and the load balancer."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support import PIPELINE_DIR, load_template, resources_of_type

INTERNET = "0.0.0.0/0"
TASK_ENDPOINTS = {"ecr.api", "ecr.dkr", "logs", "secretsmanager", "sns"}
HOOK_ENDPOINTS = {"ssm", "codedeploy", "elasticloadbalancing", "monitoring", "ec2"}
# The synthetic clients also run in the private subnets and read their client secret.
SYNTHETIC_CLIENT_ENDPOINTS = {"secretsmanager"}
STAGING_CLIENT = {"Ref": "StagingSyntheticClientSecurityGroup"}
PRODUCTION_CLIENT = {"Ref": "ProductionSyntheticClientSecurityGroup"}
HOOKS = {"Ref": "HookSecurityGroup"}
CONTRACT_OUTPUTS = {
    "VpcId",
    "PublicSubnetIds",
    "TaskSubnetIds",
    "HookSubnetIds",
    "TaskAssignPublicIp",
    "LoadBalancerArn",
    "LoadBalancerDnsName",
    "LoadBalancerFullName",
    "LoadBalancerSecurityGroupId",
    "TaskSecurityGroupId",
    "HookSecurityGroupId",
}


@pytest.fixture(scope="module")
def network() -> dict[str, Any]:
    return load_template(PIPELINE_DIR / "network.yaml")


def condition_holds(template: dict[str, Any], expression: Any, parameters: dict[str, str]) -> Any:
    """Evaluate a condition expression (Equals/Not/And/Or/Condition/Ref) for parameter values."""
    if isinstance(expression, str):
        return expression
    (function, argument), *_ = expression.items()
    if function == "Ref":
        return parameters.get(argument, template["Parameters"][argument].get("Default"))
    if function == "Condition":
        return condition_holds(template, template["Conditions"][argument], parameters)
    values = [condition_holds(template, item, parameters) for item in argument]
    operations = {
        "Fn::Equals": lambda: values[0] == values[1],
        "Fn::Not": lambda: not values[0],
        "Fn::And": lambda: all(values),
        "Fn::Or": lambda: any(values),
    }
    return operations[function]()


def resolve_if(template: dict[str, Any], value: Any, parameters: dict[str, str]) -> Any:
    """Pick the branch of every Fn::If for the given parameter values."""
    if isinstance(value, dict) and set(value) == {"Fn::If"}:
        name, when_true, when_false = value["Fn::If"]
        holds = condition_holds(template, template["Conditions"][name], parameters)
        return resolve_if(template, when_true if holds else when_false, parameters)
    if isinstance(value, dict):
        return {key: resolve_if(template, item, parameters) for key, item in value.items()}
    if isinstance(value, list):
        return [resolve_if(template, item, parameters) for item in value]
    return value


def existing(template: dict[str, Any], parameters: dict[str, str]) -> dict[str, dict[str, Any]]:
    """The resources CloudFormation creates for these parameters, Fn::If resolved."""
    return {
        logical_id: resolve_if(template, resource, parameters)
        for logical_id, resource in template["Resources"].items()
        if "Condition" not in resource
        or condition_holds(template, template["Conditions"][resource["Condition"]], parameters)
    }


def endpoint_services(resources: dict[str, dict[str, Any]], endpoint_type: str) -> set[str]:
    names = set()
    for resource in resources.values():
        properties = resource["Properties"]
        if resource["Type"] == "AWS::EC2::VPCEndpoint" and (
            properties["VpcEndpointType"] == endpoint_type
        ):
            names.add(properties["ServiceName"]["Fn::Sub"].split("${AWS::Region}.")[1])
    return names


def ingress_rules(template: dict[str, Any], group: str) -> list[dict[str, Any]]:
    """Inline and standalone ingress rules of one security group."""
    inline = template["Resources"][group]["Properties"].get("SecurityGroupIngress", [])
    standalone = [
        resource["Properties"]
        for resource in resources_of_type(template, "AWS::EC2::SecurityGroupIngress").values()
        if resource["Properties"]["GroupId"] == {"Ref": group}
    ]
    return [*inline, *standalone]


def egress_rules(template: dict[str, Any], group: str) -> list[dict[str, Any]]:
    inline = template["Resources"][group]["Properties"].get("SecurityGroupEgress", [])
    standalone = [
        resource["Properties"]
        for resource in resources_of_type(template, "AWS::EC2::SecurityGroupEgress").values()
        if resource["Properties"]["GroupId"] == {"Ref": group}
    ]
    return [*inline, *standalone]


def test_vpc_is_10_0_0_0_16_with_dns_for_private_endpoints(network: dict[str, Any]) -> None:
    vpc = network["Resources"]["Vpc"]["Properties"]

    assert vpc["CidrBlock"] == "10.0.0.0/16"
    assert vpc["EnableDnsSupport"] is True
    assert vpc["EnableDnsHostnames"] is True


@pytest.mark.parametrize(
    ("prefix", "cidrs"),
    [
        ("PublicSubnet", ["10.0.0.0/24", "10.0.1.0/24", "10.0.2.0/24"]),
        ("PrivateSubnet", ["10.0.10.0/24", "10.0.11.0/24", "10.0.12.0/24"]),
    ],
)
def test_subnets_span_three_azs_chosen_with_get_azs(
    network: dict[str, Any], prefix: str, cidrs: list[str]
) -> None:
    for index, cidr in enumerate(cidrs):
        subnet = network["Resources"][f"{prefix}{index + 1}"]["Properties"]
        assert subnet["CidrBlock"] == cidr
        assert subnet["AvailabilityZone"] == {"Fn::Select": [index, {"Fn::GetAZs": ""}]}
        assert subnet.get("MapPublicIpOnLaunch", False) is False


def test_public_subnets_route_to_the_internet_gateway(network: dict[str, Any]) -> None:
    resources = network["Resources"]
    route = resources["PublicDefaultRoute"]["Properties"]
    associations = {
        r["Properties"]["SubnetId"]["Ref"]: r["Properties"]["RouteTableId"]["Ref"]
        for r in resources_of_type(network, "AWS::EC2::SubnetRouteTableAssociation").values()
    }

    assert route == {
        "RouteTableId": {"Ref": "PublicRouteTable"},
        "DestinationCidrBlock": INTERNET,
        "GatewayId": {"Ref": "InternetGateway"},
    }
    assert resources["InternetGatewayAttachment"]["Properties"]["VpcId"] == {"Ref": "Vpc"}
    for index in (1, 2, 3):
        assert associations[f"PublicSubnet{index}"] == "PublicRouteTable"
        assert associations[f"PrivateSubnet{index}"] == "PrivateRouteTable"


def test_egress_mode_defaults_to_vpc_endpoints(network: dict[str, Any]) -> None:
    parameter = network["Parameters"]["EgressMode"]

    assert parameter["Default"] == "VpcEndpoints"
    assert parameter["AllowedValues"] == ["VpcEndpoints", "NatGateway", "PublicSubnets"]


def test_vpc_endpoints_mode_has_endpoints_for_tasks_and_hooks_and_no_nat(
    network: dict[str, Any],
) -> None:
    # WHEN the stack is created in the default mode
    resources = existing(network, {"EgressMode": "VpcEndpoints"})

    # THEN every API tasks and hooks call has an endpoint, and nothing routes to the internet
    assert endpoint_services(resources, "Interface") == TASK_ENDPOINTS | HOOK_ENDPOINTS
    assert endpoint_services(resources, "Gateway") == {"s3"}
    assert not resources_of_type({"Resources": resources}, "AWS::EC2::NatGateway")
    assert "PrivateDefaultRoute" not in resources


def test_interface_endpoints_use_private_dns_and_accept_443_from_the_vpc_only(
    network: dict[str, Any],
) -> None:
    resources = existing(network, {"EgressMode": "VpcEndpoints"})
    endpoint_group = network["Resources"]["EndpointSecurityGroup"]["Properties"]

    for logical_id, resource in resources.items():
        properties = resource["Properties"]
        if resource["Type"] == "AWS::EC2::VPCEndpoint" and properties["VpcEndpointType"] == (
            "Interface"
        ):
            assert properties["PrivateDnsEnabled"] is True, logical_id
            assert properties["SecurityGroupIds"] == [{"Ref": "EndpointSecurityGroup"}]
            assert len(properties["SubnetIds"]) == 3, logical_id
    assert endpoint_group["SecurityGroupIngress"] == [
        {
            "Description": "HTTPS from tasks and hook functions",
            "IpProtocol": "tcp",
            "FromPort": 443,
            "ToPort": 443,
            "CidrIp": {"Fn::GetAtt": ["Vpc", "CidrBlock"]},
        }
    ]


def test_nat_gateway_mode_routes_private_subnets_through_one_nat_in_the_first_public_subnet(
    network: dict[str, Any],
) -> None:
    resources = existing(network, {"EgressMode": "NatGateway"})

    nat_gateways = resources_of_type({"Resources": resources}, "AWS::EC2::NatGateway")
    assert list(nat_gateways) == ["NatGateway"]
    assert nat_gateways["NatGateway"]["Properties"]["SubnetId"] == {"Ref": "PublicSubnet1"}
    assert resources["PrivateDefaultRoute"]["Properties"] == {
        "RouteTableId": {"Ref": "PrivateRouteTable"},
        "DestinationCidrBlock": INTERNET,
        "NatGatewayId": {"Ref": "NatGateway"},
    }
    assert endpoint_services(resources, "Interface") == set()


def test_public_subnets_mode_keeps_only_the_hook_and_synthetic_client_endpoints(
    network: dict[str, Any],
) -> None:
    # Lambda functions never get a public IP, so the hooks and the synthetic clients still need
    # a private path to AWS APIs.
    resources = existing(network, {"EgressMode": "PublicSubnets"})

    assert endpoint_services(resources, "Interface") == HOOK_ENDPOINTS | SYNTHETIC_CLIENT_ENDPOINTS
    assert not resources_of_type({"Resources": resources}, "AWS::EC2::NatGateway")


@pytest.mark.parametrize(
    ("mode", "task_subnets", "public_ip"),
    [
        ("VpcEndpoints", "PrivateSubnet", "DISABLED"),
        ("NatGateway", "PrivateSubnet", "DISABLED"),
        ("PublicSubnets", "PublicSubnet", "ENABLED"),
    ],
)
def test_task_placement_follows_the_egress_mode(
    network: dict[str, Any], mode: str, task_subnets: str, public_ip: str
) -> None:
    outputs = resolve_if(network, network["Outputs"], {"EgressMode": mode})

    assert outputs["TaskSubnetIds"]["Value"] == {
        "Fn::Join": [",", [{"Ref": f"{task_subnets}{index}"} for index in (1, 2, 3)]]
    }
    assert outputs["TaskAssignPublicIp"]["Value"] == public_ip
    # Hooks stay private in every mode: their test-listener traffic must come from inside the VPC.
    assert outputs["HookSubnetIds"]["Value"] == {
        "Fn::Join": [",", [{"Ref": f"PrivateSubnet{index}"} for index in (1, 2, 3)]]
    }


def test_internet_reaches_only_http_https_and_the_production_listener_range(
    network: dict[str, Any],
) -> None:
    rules = ingress_rules(network, "LoadBalancerSecurityGroup")

    open_to_internet = {
        (rule["FromPort"], rule["ToPort"]) for rule in rules if rule.get("CidrIp") == INTERNET
    }
    assert open_to_internet == {(80, 80), (443, 443), (8080, 8089)}
    assert all("CidrIpv6" not in rule for rule in rules)


def staging_listener_sources(resources: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Where the created load balancer rules admit traffic to the staging listeners from."""
    group = resources["LoadBalancerSecurityGroup"]["Properties"]["SecurityGroupIngress"]
    standalone = [
        resource["Properties"]
        for resource in resources.values()
        if resource["Type"] == "AWS::EC2::SecurityGroupIngress"
        and resource["Properties"]["GroupId"] == {"Ref": "LoadBalancerSecurityGroup"}
    ]
    return [
        {
            key: rule[key]
            for key in ("CidrIp", "SourcePrefixListId", "SourceSecurityGroupId")
            if key in rule
        }
        for rule in [*group, *standalone]
        if rule["FromPort"] <= 8189 and rule["ToPort"] >= 8180
    ]


def test_staging_listeners_are_reachable_from_nowhere_by_default(
    network: dict[str, Any],
) -> None:
    # WHEN the network is created with the default parameters
    resources = existing(network, {})

    # THEN no rule admits anyone outside the VPC to the staging listener ports: only the staging
    # synthetic client's security group, inside it
    assert staging_listener_sources(resources) == [{"SourceSecurityGroupId": STAGING_CLIENT}]


def test_staging_listeners_admit_exactly_the_configured_cidr_and_prefix_list(
    network: dict[str, Any],
) -> None:
    # WHEN a tester CIDR and a prefix list are configured
    resources = existing(
        network,
        {"StagingIngressCidr": "203.0.113.0/24", "StagingIngressPrefixListId": "pl-0123abcd"},
    )

    # THEN the staging listeners admit those two sources and nothing else but the staging
    # synthetic client
    assert staging_listener_sources(resources) == [
        {"SourceSecurityGroupId": STAGING_CLIENT},
        {"CidrIp": {"Ref": "StagingIngressCidr"}},
        {"SourcePrefixListId": {"Ref": "StagingIngressPrefixListId"}},
    ]


def test_load_balancer_waits_for_the_internet_gateway_attachment_and_public_route(
    network: dict[str, Any],
) -> None:
    # An internet-facing ALB takes public addresses through the gateway; DependsOn orders its
    # creation after the attachment and its deletion before the gateway is detached.
    depends_on = network["Resources"]["LoadBalancer"]["DependsOn"]

    assert {"InternetGatewayAttachment", "PublicDefaultRoute"} <= set(depends_on)


def test_test_listener_ports_accept_only_the_hooks_and_their_environments_synthetic_client(
    network: dict[str, Any],
) -> None:
    # Green is reachable through the test listeners before any user gets it: never from the
    # internet, only from the hook functions and the environment's own synthetic client.
    rules = ingress_rules(network, "LoadBalancerSecurityGroup")

    test_port_rules = [rule for rule in rules if rule["FromPort"] >= 9000]
    sources = {
        (r["FromPort"], r["ToPort"], r["SourceSecurityGroupId"]["Ref"]) for r in test_port_rules
    }
    assert sources == {
        (9080, 9089, "HookSecurityGroup"),
        (9180, 9189, "HookSecurityGroup"),
        (9080, 9089, "ProductionSyntheticClientSecurityGroup"),
        (9180, 9189, "StagingSyntheticClientSecurityGroup"),
    }
    assert all(
        "CidrIp" not in rule and "SourcePrefixListId" not in rule for rule in test_port_rules
    )


@pytest.mark.parametrize(
    ("environment", "ports"),
    [("Staging", {(8180, 8189), (9180, 9189)}), ("Production", {(8080, 8089), (9080, 9089)})],
)
def test_each_synthetic_client_reaches_only_its_environments_listeners_and_aws_apis(
    network: dict[str, Any], environment: str, ports: set[tuple[int, int]]
) -> None:
    group = f"{environment}SyntheticClientSecurityGroup"
    rules = egress_rules(network, group)

    to_load_balancer = {
        (rule["FromPort"], rule["ToPort"])
        for rule in rules
        if rule.get("DestinationSecurityGroupId") == {"Ref": "LoadBalancerSecurityGroup"}
    }
    assert to_load_balancer == ports
    others = [rule for rule in rules if "DestinationSecurityGroupId" not in rule]
    assert [(rule["FromPort"], rule["ToPort"]) for rule in others] == [(443, 443)]
    # Nothing may connect to it.
    assert ingress_rules(network, group) == []


def test_hooks_may_reach_the_test_listeners_and_https_only(network: dict[str, Any]) -> None:
    rules = egress_rules(network, "HookSecurityGroup")

    to_load_balancer = {
        (rule["FromPort"], rule["ToPort"])
        for rule in rules
        if rule.get("DestinationSecurityGroupId") == {"Ref": "LoadBalancerSecurityGroup"}
    }
    assert to_load_balancer == {(9080, 9089), (9180, 9189)}
    others = [rule for rule in rules if "DestinationSecurityGroupId" not in rule]
    assert [(rule["FromPort"], rule["ToPort"]) for rule in others] == [(443, 443)]


def test_hooks_send_https_outside_the_vpc_only_through_a_nat_gateway(
    network: dict[str, Any],
) -> None:
    for mode, expected in [
        ("NatGateway", INTERNET),
        ("VpcEndpoints", {"Fn::GetAtt": ["Vpc", "CidrBlock"]}),
        ("PublicSubnets", {"Fn::GetAtt": ["Vpc", "CidrBlock"]}),
    ]:
        group = existing(network, {"EgressMode": mode})["HookSecurityGroup"]
        assert group["Properties"]["SecurityGroupEgress"][0]["CidrIp"] == expected, mode


def test_tasks_accept_only_8080_from_the_load_balancer(network: dict[str, Any]) -> None:
    rules = ingress_rules(network, "TaskSecurityGroup")

    assert [
        (rule["FromPort"], rule["ToPort"], rule["IpProtocol"], rule["SourceSecurityGroupId"])
        for rule in rules
    ] == [(8080, 8080, "tcp", {"Ref": "LoadBalancerSecurityGroup"})]
    assert all("CidrIp" not in rule for rule in rules)


def test_load_balancer_sends_only_to_the_container_port(network: dict[str, Any]) -> None:
    rules = egress_rules(network, "LoadBalancerSecurityGroup")

    assert [(rule["FromPort"], rule["ToPort"]) for rule in rules] == [(8080, 8080)]
    assert rules[0]["CidrIp"] == {"Fn::GetAtt": ["Vpc", "CidrBlock"]}


def test_load_balancer_is_internet_facing_and_drops_invalid_headers(
    network: dict[str, Any],
) -> None:
    balancer = network["Resources"]["LoadBalancer"]["Properties"]
    attributes = {item["Key"]: item["Value"] for item in balancer["LoadBalancerAttributes"]}

    assert balancer["Scheme"] == "internet-facing"
    assert balancer["Type"] == "application"
    assert balancer["Subnets"] == [{"Ref": f"PublicSubnet{index}"} for index in (1, 2, 3)]
    assert balancer["SecurityGroups"] == [{"Ref": "LoadBalancerSecurityGroup"}]
    assert attributes["routing.http.drop_invalid_header_fields.enabled"] == "true"
    assert attributes["deletion_protection.enabled"] == {"Ref": "DeletionProtection"}
    assert 0 < int(attributes["idle_timeout.timeout_seconds"]) <= 60


def test_certificate_turns_on_https_with_a_modern_policy_and_redirects_http(
    network: dict[str, Any],
) -> None:
    # GIVEN a certificate
    with_certificate = existing(
        network, {"CertificateArn": "arn:aws:acm:us-east-1:123456789012:certificate/abc"}
    )

    # THEN 443 speaks TLS 1.2/1.3 with it and port 80 redirects there permanently
    https = with_certificate["HttpsListener"]["Properties"]
    assert https["Protocol"] == "HTTPS"
    assert https["Port"] == 443
    assert https["SslPolicy"] == "ELBSecurityPolicy-TLS13-1-2-2021-06"
    assert https["Certificates"] == [{"CertificateArn": {"Ref": "CertificateArn"}}]
    (redirect,) = with_certificate["HttpListener"]["Properties"]["DefaultActions"]
    assert redirect["Type"] == "redirect"
    assert redirect["RedirectConfig"]["Protocol"] == "HTTPS"
    assert redirect["RedirectConfig"]["Port"] == "443"
    assert redirect["RedirectConfig"]["StatusCode"] == "HTTP_301"


def test_without_certificate_there_is_no_https_listener(network: dict[str, Any]) -> None:
    without_certificate = existing(network, {})

    assert "HttpsListener" not in without_certificate
    (action,) = without_certificate["HttpListener"]["Properties"]["DefaultActions"]
    assert action["Type"] == "fixed-response"


def test_outputs_cover_the_nested_stack_contract(network: dict[str, Any]) -> None:
    assert set(network["Outputs"]) >= CONTRACT_OUTPUTS
    assert set(network["Parameters"]) >= {"EnvironmentSuffix", "EgressMode", "CertificateArn"}


def test_service_listener_ports_fall_in_the_ranges_the_security_groups_open(
    network: dict[str, Any],
) -> None:
    # GIVEN the port scheme the service stack maps each service index to
    ports = load_template(PIPELINE_DIR / "service.yaml")["Mappings"]["ListenerPorts"]
    rules = ingress_rules(network, "LoadBalancerSecurityGroup")

    def opened_to(port: int) -> list[Any]:
        return [
            rule.get("CidrIp", rule.get("SourceSecurityGroupId", rule.get("SourcePrefixListId")))
            for rule in rules
            if rule["FromPort"] <= port <= rule["ToPort"]
        ]

    # THEN production listeners are open to the internet, staging listeners to the configured
    # sources and its synthetic client only, and test listeners only to the hooks and the
    # environment's synthetic client
    assert len(ports) == 10
    for listener_ports in ports.values():
        assert opened_to(listener_ports["Production"]) == [INTERNET]
        assert opened_to(listener_ports["Staging"]) == [
            STAGING_CLIENT,
            {"Ref": "StagingIngressCidr"},
            {"Ref": "StagingIngressPrefixListId"},
        ]
        assert opened_to(listener_ports["ProductionTest"]) == [HOOKS, PRODUCTION_CLIENT]
        assert opened_to(listener_ports["StagingTest"]) == [HOOKS, STAGING_CLIENT]
