"""Production listeners are public, so the root refuses a stack without a certificate unless the
documented opt-out is given in so many words (rule ProductionNeedsHttps), as CloudFormation checks
the Rules section before creating anything."""

from __future__ import annotations

import shlex
import tomllib
from typing import Any

import pytest

from tests.support import REPO_ROOT, load_template
from tools.cfn_render import Renderer
from tools.local_deploy.deploy import RulesRefused, check_rules, local_parameters

CERTIFICATE = "arn:aws:acm:eu-west-1:123456789012:certificate/0f1e2d3c-aaaa-bbbb-cccc-000000000000"


def refusals(template: dict[str, Any], parameters: dict[str, str]) -> list[str]:
    return Renderer(template, dict(parameters)).failed_rules()


def samconfig_overrides(environment: str) -> dict[str, str]:
    config = tomllib.loads((REPO_ROOT / "samconfig.toml").read_text())
    section = config[environment]["deploy"]["parameters"]
    return dict(item.split("=", 1) for item in shlex.split(section["parameter_overrides"]))


def test_a_stack_without_a_certificate_is_refused_by_default(root_template: dict[str, Any]) -> None:
    # GIVEN the template's defaults: no CertificateArn, no opt-out
    # WHEN CloudFormation checks the rules THEN the production-facing stack is refused, saying why
    (refusal,) = refusals(root_template, {})
    assert refusal.startswith("ProductionNeedsHttps:")
    assert "CertificateArn" in refusal
    assert "AllowPlainHttpProduction=true" in refusal


def test_a_certificate_with_the_name_it_covers_lets_the_stack_deploy(
    root_template: dict[str, Any],
) -> None:
    parameters = {"CertificateArn": CERTIFICATE, "DomainName": "api.example.com"}
    assert refusals(root_template, parameters) == []


def test_a_certificate_without_the_name_it_covers_is_refused(
    root_template: dict[str, Any],
) -> None:
    # The endpoints would name the load balancer's own DNS name, which no certificate covers:
    # every synthetic check and the load test would fail their TLS check, and staging with them.
    (refusal,) = refusals(root_template, {"CertificateArn": CERTIFICATE})
    assert refusal.startswith("CertificateNeedsDomainName:")
    assert "DomainName" in refusal


def test_the_endpoints_name_the_domain_name_when_one_is_given(
    root_template: dict[str, Any],
) -> None:
    service = load_template(REPO_ROOT / "pipeline/service.yaml")
    outputs = service["Outputs"]
    for name, port in (("StagingEndpoint", "8180"), ("ProductionEndpoint", "8080")):
        with_name = Renderer(
            service,
            {
                "ServiceIndex": "0",
                "CertificateArn": CERTIFICATE,
                "PublicHostName": "api.example.com",
                "LoadBalancerDnsName": "alb-1.eu-west-1.elb.amazonaws.com",
            },
        ).render(outputs[name]["Value"])
        assert with_name == f"https://api.example.com:{port}"
        without = Renderer(
            service,
            {"ServiceIndex": "0", "LoadBalancerDnsName": "alb-1.eu-west-1.elb.amazonaws.com"},
        ).render(outputs[name]["Value"])
        assert without == f"http://alb-1.eu-west-1.elb.amazonaws.com:{port}"
    # AND the root hands its DomainName to every service stack and to both synthetic clients
    resources = root_template["Resources"]
    stacks = [r for r in resources.values() if r["Type"] == "AWS::CloudFormation::Stack"]
    services = [s for s in stacks if "PublicHostName" in s["Properties"].get("Parameters", {})]
    assert len(services) == 3
    assert all(
        s["Properties"]["Parameters"]["PublicHostName"] == {"Ref": "DomainName"} for s in services
    )
    for function in ("StagingSyntheticClientFunction", "ProductionSyntheticClientFunction"):
        variables = resources[function]["Properties"]["Environment"]["Variables"]
        assert variables["PUBLIC_HOST_NAME"] == {"Ref": "DomainName"}


def test_the_explicit_opt_out_lets_a_stack_without_a_certificate_deploy(
    root_template: dict[str, Any],
) -> None:
    assert refusals(root_template, {"AllowPlainHttpProduction": "true"}) == []


def test_the_opt_out_is_off_by_default_and_takes_only_true_or_false(
    root_template: dict[str, Any],
) -> None:
    spec = root_template["Parameters"]["AllowPlainHttpProduction"]
    assert spec["Default"] == "false"
    assert spec["AllowedValues"] == ["true", "false"]
    assert "docs/security.md" in spec["Description"]


def test_prod_and_default_environments_never_opt_out_of_https(
    root_template: dict[str, Any],
) -> None:
    for environment in ("prod", "default"):
        overrides = samconfig_overrides(environment)
        assert "AllowPlainHttpProduction" not in overrides, environment
        # Until someone adds CertificateArn to the section, the deploy is refused.
        assert refusals(root_template, overrides), environment


def test_the_sandbox_environment_opts_out_so_a_first_try_needs_no_certificate(
    root_template: dict[str, Any],
) -> None:
    overrides = samconfig_overrides("sandbox")
    assert overrides["AllowPlainHttpProduction"] == "true"
    assert refusals(root_template, overrides) == []


def test_the_local_emulator_deploy_sets_the_opt_out(root_template: dict[str, Any]) -> None:
    parameters = local_parameters(root_template, {"EnvironmentSuffix": "local"})
    assert parameters["AllowPlainHttpProduction"] == "true"
    check_rules(root_template, parameters)  # does not raise


def test_the_local_deploy_checks_the_rules_the_emulator_ignores(
    root_template: dict[str, Any],
) -> None:
    # GIVEN a caller who turns the opt-out off explicitly: their value wins over the local default
    parameters = local_parameters(root_template, {"AllowPlainHttpProduction": "false"})
    # THEN the local deploy refuses, as CloudFormation would (moto does not check Rules)
    with pytest.raises(RulesRefused, match="ProductionNeedsHttps"):
        check_rules(root_template, parameters)


def test_a_template_without_the_parameter_is_not_given_it() -> None:
    assert local_parameters({"Parameters": {"Suffix": {}}}, {"Suffix": "x"}) == {"Suffix": "x"}


def test_an_assertion_the_renderer_cannot_judge_raises_instead_of_passing() -> None:
    template = {"Rules": {"Odd": {"Assertions": [{"Assert": {"Fn::Contains": [["a"], "a"]}}]}}}
    with pytest.raises(TypeError, match="Odd"):
        Renderer(template, {}).failed_rules()
