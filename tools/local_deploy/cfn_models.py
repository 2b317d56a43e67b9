"""CloudFormation models for types moto's backends implement but its CloudFormation does not.

moto builds its type -> model map from the direct subclasses of `CloudFormationModel` (and caches
it), so defining these classes and clearing that cache is the registration. Each model is a
thin adapter: CloudFormation properties in, one call to moto's own service backend, and the
physical id and attributes `Ref`/`Fn::GetAtt` need out. They live here, in development tooling,
because nothing in the deployed system should know moto exists.

`registry.register_models()` registers them in the process that serves moto (`emulator.py`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, ClassVar, Self

from moto.cloudformation.exceptions import UnformattedGetAttTemplateException
from moto.cloudformation.models import cloudformation_backends
from moto.cloudformation.utils import get_stack_from_s3_url
from moto.cloudwatch.models import (
    Dimension,
    Metric,
    MetricDataQuery,
    MetricStat,
    cloudwatch_backends,
)
from moto.codebuild.models import codebuild_backends
from moto.codedeploy.models import AlarmConfiguration, codedeploy_backends
from moto.codepipeline.models import codepipeline_backends
from moto.core.common_models import CloudFormationModel
from moto.ecs.models import Service
from moto.elbv2.models import FakeLoadBalancer, FakeTargetGroup, elbv2_backends
from moto.utilities.utils import get_partition
from samcli.yamlhelper import yaml_parse

from tools.local_deploy.expand import expand_template

Properties = dict[str, Any]


def _lower_camel(value: Any, keep: frozenset[str] = frozenset()) -> Any:
    """CloudFormation spells API members in PascalCase; these services' APIs use camelCase.

    Keys named in `keep` hold user data (a CodePipeline action's Configuration), kept as written.
    """
    if isinstance(value, list):
        return [_lower_camel(item, keep) for item in value]
    if not isinstance(value, dict):
        return value
    return {
        key[:1].lower() + key[1:]: item if key in keep else _lower_camel(item, keep)
        for key, item in value.items()
    }


class BackendResource:
    """What moto's ResourceMap needs from a created resource: an id, attributes, a delete.

    A model names its CloudFormation type in `cfn_type`, the property that holds a resource's
    physical name (if it has one) in `cfn_name_property`, the attributes `Fn::GetAtt` may ask
    for in `attribute_names`, and implements `create`: properties in, one call to moto's
    backend, the created resource out. moto's calling convention lives here, once.
    """

    cfn_type: ClassVar[str]
    cfn_name_property: ClassVar[str] = ""
    attribute_names: ClassVar[frozenset[str]] = frozenset()

    @classmethod
    def cloudformation_type(cls) -> str:
        return cls.cfn_type

    @classmethod
    def cloudformation_name_type(cls) -> str:
        return cls.cfn_name_property

    @classmethod
    def create_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: Properties,
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> Self:
        return cls.create(
            resource_name, cloudformation_json.get("Properties", {}), account_id, region_name
        )

    @classmethod
    def create(
        cls, resource_name: str, props: Properties, account_id: str, region_name: str
    ) -> Self:
        raise NotImplementedError

    def __init__(
        self,
        physical_resource_id: str,
        attributes: dict[str, Any],
        delete: Callable[[], object],
    ) -> None:
        self.physical_resource_id = physical_resource_id
        self.attributes = attributes
        self._delete = delete

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr in cls.attribute_names

    def get_cfn_attribute(self, attribute_name: str) -> Any:
        if attribute_name not in self.attributes:
            raise UnformattedGetAttTemplateException()
        return self.attributes[attribute_name]

    def is_created(self) -> bool:
        return True

    def delete(self, account_id: str, region_name: str) -> None:
        self._delete()


def _metric_data_queries(metrics: list[Properties]) -> list[MetricDataQuery] | None:
    """The same translation moto's PutMetricAlarm handler does for `Metrics`."""
    if not metrics:
        return None
    queries = []
    for query in metrics:
        stat = query.get("MetricStat")
        metric_stat = None
        if stat:
            metric = stat.get("Metric", {})
            metric_stat = MetricStat(
                metric=Metric(
                    metric_name=metric.get("MetricName"),
                    namespace=metric.get("Namespace"),
                    dimensions=[
                        Dimension(name=d["Name"], value=d["Value"])
                        for d in metric.get("Dimensions", [])
                    ],
                ),
                period=stat.get("Period"),
                stat=stat.get("Stat"),
                unit=stat.get("Unit"),
            )
        fields: dict[str, Any] = {
            "query_id": query.get("Id"),
            "label": query.get("Label"),
            "period": query.get("Period"),
            "return_data": query.get("ReturnData"),
            "expression": query.get("Expression"),
        }
        queries.append(MetricDataQuery(metric_stat=metric_stat, **fields))
    return queries


def _optional_int(value: Any) -> int | None:
    return None if value is None else int(value)


class CloudWatchAlarm(BackendResource, CloudFormationModel):
    attribute_names = frozenset({"Arn"})

    cfn_type = "AWS::CloudWatch::Alarm"
    cfn_name_property = "AlarmName"

    @classmethod
    def create(
        cls, resource_name: str, props: Properties, account_id: str, region_name: str
    ) -> CloudWatchAlarm:
        backend = cloudwatch_backends[account_id][region_name]
        # moto's signature says str for members a metric-math alarm leaves out; None is what its
        # own PutMetricAlarm handler passes for them, so these are read untyped.
        optional: Any = props.get
        alarm = backend.put_metric_alarm(
            name=resource_name,
            namespace=optional("Namespace"),
            metric_name=optional("MetricName"),
            comparison_operator=props["ComparisonOperator"],
            evaluation_periods=int(props["EvaluationPeriods"]),
            period=_optional_int(optional("Period")),  # type: ignore[arg-type]
            threshold=float(props.get("Threshold", 0)),
            statistic=optional("Statistic"),
            description=optional("AlarmDescription"),
            dimensions=props.get("Dimensions", []),
            alarm_actions=props.get("AlarmActions", []),
            metric_data_queries=_metric_data_queries(props.get("Metrics", [])),
            datapoints_to_alarm=_optional_int(props.get("DatapointsToAlarm")),
            extended_statistic=props.get("ExtendedStatistic"),
            ok_actions=props.get("OKActions", []),
            insufficient_data_actions=props.get("InsufficientDataActions", []),
            unit=props.get("Unit"),
            actions_enabled=str(props.get("ActionsEnabled", True)).lower() == "true",
            treat_missing_data=props.get("TreatMissingData"),
            evaluate_low_sample_count_percentile=props.get("EvaluateLowSampleCountPercentile"),
            threshold_metric_id=props.get("ThresholdMetricId"),
            tags=props.get("Tags"),
        )
        return cls(
            resource_name,
            {"Arn": alarm.alarm_arn},
            lambda: backend.delete_alarms([resource_name]),
        )


class CodeBuildProject(BackendResource, CloudFormationModel):
    attribute_names = frozenset({"Arn"})

    cfn_type = "AWS::CodeBuild::Project"
    cfn_name_property = "Name"

    @classmethod
    def create(
        cls, resource_name: str, props: Properties, account_id: str, region_name: str
    ) -> CodeBuildProject:
        backend = codebuild_backends[account_id][region_name]
        metadata = backend.create_project(
            project_name=resource_name,
            description=props.get("Description"),
            project_source=_lower_camel(props.get("Source", {})),
            artifacts=_lower_camel(props.get("Artifacts", {})),
            environment=_lower_camel(props.get("Environment", {})),
            service_role=props["ServiceRole"],
            tags=_lower_camel(props.get("Tags")),
            cache=_lower_camel(props.get("Cache")),
            timeout=_optional_int(props.get("TimeoutInMinutes")),
            queued_timeout=_optional_int(props.get("QueuedTimeoutInMinutes")),
            source_version=props.get("SourceVersion"),
            logs_config=_lower_camel(props.get("LogsConfig")),
            vpc_config=_lower_camel(props.get("VpcConfig")),
        )
        return cls(
            resource_name,
            {"Arn": metadata["arn"]},
            lambda: backend.delete_project(resource_name),
        )


class CodePipelinePipeline(BackendResource, CloudFormationModel):
    attribute_names = frozenset({"Version"})

    cfn_type = "AWS::CodePipeline::Pipeline"
    cfn_name_property = "Name"

    @classmethod
    def create(
        cls, resource_name: str, props: Properties, account_id: str, region_name: str
    ) -> CodePipelinePipeline:
        props = dict(props)
        tags = _lower_camel(props.pop("Tags", None))
        # Template-only settings with no member in the API's pipeline declaration.
        for template_only in ("RestartExecutionOnUpdate", "DisableInboundStageTransitions"):
            props.pop(template_only, None)
        declaration = _lower_camel(props, keep=frozenset({"Configuration"}))
        declaration["name"] = resource_name
        backend = codepipeline_backends[account_id][region_name]
        created, _ = backend.create_pipeline(declaration, tags)
        return cls(
            resource_name,
            {"Version": str(created.get("version", 1))},
            lambda: backend.delete_pipeline(resource_name),
        )


class CodeDeployApplication(BackendResource, CloudFormationModel):
    attribute_names = frozenset({"ApplicationName"})

    cfn_type = "AWS::CodeDeploy::Application"
    cfn_name_property = "ApplicationName"

    @classmethod
    def create(
        cls, resource_name: str, props: Properties, account_id: str, region_name: str
    ) -> CodeDeployApplication:
        backend = codedeploy_backends[account_id][region_name]
        backend.create_application(
            resource_name,
            props.get("ComputePlatform", "Server"),
            _lower_camel(props.get("Tags", [])),
        )

        def delete() -> None:
            # moto has no DeleteApplication; its state is these two dictionaries.
            backend.applications.pop(resource_name, None)
            backend.deployment_groups.pop(resource_name, None)

        return cls(resource_name, {"ApplicationName": resource_name}, delete)


def _alarm_configuration(properties: Properties | None) -> AlarmConfiguration | None:
    if not properties:
        return None
    return AlarmConfiguration(
        alarms=_lower_camel(properties.get("Alarms", [])),
        enabled=str(properties.get("Enabled", False)).lower() == "true",
        ignore_poll_alarm_failure=str(properties.get("IgnorePollAlarmFailure", False)).lower()
        == "true",
    )


class CodeDeployDeploymentGroup(BackendResource, CloudFormationModel):
    cfn_type = "AWS::CodeDeploy::DeploymentGroup"
    cfn_name_property = "DeploymentGroupName"

    @classmethod
    def create(
        cls, resource_name: str, props: Properties, account_id: str, region_name: str
    ) -> CodeDeployDeploymentGroup:
        application = props["ApplicationName"]
        backend = codedeploy_backends[account_id][region_name]
        backend.create_deployment_group(
            application_name=application,
            deployment_group_name=resource_name,
            deployment_config_name=props.get("DeploymentConfigName"),
            ec2_tag_filters=_lower_camel(props.get("Ec2TagFilters")),
            on_premises_instance_tag_filters=_lower_camel(
                props.get("OnPremisesInstanceTagFilters")
            ),
            auto_scaling_groups=props.get("AutoScalingGroups"),
            service_role_arn=props["ServiceRoleArn"],
            trigger_configurations=_lower_camel(props.get("TriggerConfigurations")),
            alarm_configuration=_alarm_configuration(props.get("AlarmConfiguration")),
            auto_rollback_configuration=_lower_camel(props.get("AutoRollbackConfiguration")),
            outdated_instances_strategy=props.get("OutdatedInstancesStrategy"),
            deployment_style=_lower_camel(props.get("DeploymentStyle")),
            blue_green_deployment_configuration=_lower_camel(
                props.get("BlueGreenDeploymentConfiguration")
            ),
            load_balancer_info=_lower_camel(props.get("LoadBalancerInfo")),
            ec2_tag_set=_lower_camel(props.get("Ec2TagSet")),
            ecs_services=_lower_camel(props.get("ECSServices")),
            on_premises_tag_set=_lower_camel(props.get("OnPremisesTagSet")),
            tags=_lower_camel(props.get("Tags")),
            termination_hook_enabled=props.get("TerminationHookEnabled"),
        )
        return cls(
            resource_name,
            {},
            lambda: backend.deployment_groups.get(application, {}).pop(resource_name, None),
        )


class TargetGroup(BackendResource, CloudFormationModel):
    """moto's own model creates target groups but answers no `Fn::GetAtt` (it lacks the method)."""

    attribute_names = frozenset(
        {"TargetGroupArn", "TargetGroupName", "TargetGroupFullName", "LoadBalancerArns"}
    )

    cfn_type = "AWS::ElasticLoadBalancingV2::TargetGroup"
    cfn_name_property = "Name"

    @classmethod
    def create(
        cls, resource_name: str, props: Properties, account_id: str, region_name: str
    ) -> TargetGroup:
        group = FakeTargetGroup.create_from_cloudformation_json(
            resource_name, {"Properties": props}, account_id, region_name
        )
        backend = elbv2_backends[account_id][region_name]
        attributes = {
            "TargetGroupArn": group.arn,
            "TargetGroupName": group.name,
            # CloudWatch's TargetGroup dimension: the ARN's resource part.
            "TargetGroupFullName": group.arn.split(":")[-1],
            "LoadBalancerArns": list(group.load_balancer_arns),
        }
        return cls(group.arn, attributes, lambda: backend.delete_target_group(group.arn))


class LoadBalancer(BackendResource, CloudFormationModel):
    """moto's load balancer, with the attributes its own model leaves unresolved.

    moto answers `Fn::GetAtt LoadBalancer.LoadBalancerFullName` with a warning and leaves the
    intrinsic in place, so every 5XX alarm's `LoadBalancer` dimension would hold a dict.
    """

    attribute_names = frozenset(
        {
            "LoadBalancerArn",
            "LoadBalancerName",
            "LoadBalancerFullName",
            "DNSName",
            "CanonicalHostedZoneID",
            "SecurityGroups",
        }
    )

    cfn_type = "AWS::ElasticLoadBalancingV2::LoadBalancer"
    cfn_name_property = "Name"

    @classmethod
    def create(
        cls, resource_name: str, props: Properties, account_id: str, region_name: str
    ) -> LoadBalancer:
        balancer = FakeLoadBalancer.create_from_cloudformation_json(
            resource_name, {"Properties": props}, account_id, region_name
        )
        backend = elbv2_backends[account_id][region_name]
        attributes = {
            "LoadBalancerArn": balancer.arn,
            "LoadBalancerName": balancer.name,
            # CloudWatch's LoadBalancer dimension: the ARN after "loadbalancer/" (app/name/id).
            "LoadBalancerFullName": balancer.arn.split(":loadbalancer/", 1)[1],
            "DNSName": balancer.dns_name,
            "CanonicalHostedZoneID": balancer.canonical_hosted_zone_id,
            "SecurityGroups": list(balancer.security_groups or []),
        }
        return cls(balancer.arn, attributes, lambda: backend.delete_load_balancer(balancer.arn))


class EcsService(CloudFormationModel):
    """moto's ECS service, with its tasks reported running, as Fargate would report them.

    There is no container engine here, so moto's services report 0 of N tasks running forever
    (unless MOTO_ECS_SERVICE_RUNNING fixes one count for every service). A healthy Fargate
    service runs its desired count; emulating that lets the health verdict pass on a healthy
    local stack, so the drill's breached alarm is the only thing that fails it.
    """

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::ECS::Service"

    @staticmethod
    def cloudformation_name_type() -> str:
        return "ServiceName"

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return bool(Service.has_cfn_attr(attr))

    @classmethod
    def create_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: Properties,
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> Service:
        service = Service.create_from_cloudformation_json(
            resource_name, cloudformation_json, account_id, region_name, **kwargs
        )
        service.running_count, service.pending_count = service.desired_count, 0
        for deployment in service.deployments:
            deployment.update(
                runningCount=service.desired_count, pendingCount=0, rolloutState="COMPLETED"
            )
        return service

    @classmethod
    def delete_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: Properties,
        account_id: str,
        region_name: str,
    ) -> None:
        Service.delete_from_cloudformation_json(
            resource_name, cloudformation_json, account_id, region_name
        )


def _parameter_value(value: Any) -> str:
    """CloudFormation passes nested-stack parameters as strings; lists become comma-joined."""
    if isinstance(value, list):
        return ",".join(str(item) for item in value)
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


class NestedStack(BackendResource, CloudFormationModel):
    """Replaces moto's own model for nested stacks, which has no `Fn::GetAtt Stack.Outputs.X`.

    Creation is moto's (the template is read from its S3 by TemplateURL); this adds what
    CloudFormation does around it: the template's transforms expanded with the parameter values
    the stack receives, parameters passed as strings, the outputs as attributes and the stack id
    as the physical id (what `Ref` returns for a nested stack).
    """

    stack_status: str = ""

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr.startswith("Outputs.")

    cfn_type = "AWS::CloudFormation::Stack"

    @classmethod
    def create(
        cls, resource_name: str, props: Properties, account_id: str, region_name: str
    ) -> NestedStack:
        backend = cloudformation_backends[account_id][region_name]
        body = get_stack_from_s3_url(
            props["TemplateURL"], account_id=account_id, partition=get_partition(region_name)
        )
        parameters = {
            key: _parameter_value(value) for key, value in props.get("Parameters", {}).items()
        }
        template = expand_template(yaml_parse(body), parameters, resource_name)
        stack = backend.create_stack(
            name=resource_name, template=json.dumps(template), parameters=parameters
        )
        outputs = {
            f"Outputs.{output['OutputKey']}": output["OutputValue"]
            for output in stack.outputs or []
        }
        nested = cls(stack.stack_id, outputs, lambda: backend.delete_stack(stack.stack_id))
        nested.stack_status = stack.status
        return nested

    def is_created(self) -> bool:
        return self.stack_status == "CREATE_COMPLETE"


LOCAL_MODELS: tuple[type[CloudFormationModel], ...] = (
    CloudWatchAlarm,
    CodeBuildProject,
    CodePipelinePipeline,
    CodeDeployApplication,
    CodeDeployDeploymentGroup,
    NestedStack,
    TargetGroup,
    LoadBalancer,
    EcsService,
)
