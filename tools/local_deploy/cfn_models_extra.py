"""More CloudFormation models over moto's backends: types the project's templates declare.

Not among the five the issue names, but each one moto's service backends implement, so the local
stack has them for real instead of as placeholders: the auth-service secret, the topic's and the
bucket's policies, the source repository, and the production services' scaling.
"""

from __future__ import annotations

import json
import secrets
import string

from moto.applicationautoscaling.models import applicationautoscaling_backends
from moto.codecommit.models import codecommit_backends
from moto.core.common_models import CloudFormationModel
from moto.s3.models import s3_backends
from moto.secretsmanager.models import secretsmanager_backends
from moto.sns.models import sns_backends
from moto.utilities.utils import get_partition

from tools.local_deploy.cfn_models import BackendResource, Properties


def _generated_secret(generate: Properties) -> str:
    """GenerateSecretString, as Secrets Manager does it (a random password, maybe in a JSON)."""
    alphabet = string.ascii_letters + string.digits
    if str(generate.get("ExcludePunctuation", False)).lower() != "true":
        alphabet += "!#$%&()*+,-.:;<=>?@[]^_{|}~"
    password = "".join(
        secrets.choice(alphabet) for _ in range(int(generate.get("PasswordLength", 32)))
    )
    template = generate.get("SecretStringTemplate")
    if not template:
        return password
    document = json.loads(template)
    document[generate["GenerateStringKey"]] = password
    return json.dumps(document)


class SecretsManagerSecret(BackendResource, CloudFormationModel):
    attribute_names = frozenset({"Id"})

    cfn_type = "AWS::SecretsManager::Secret"
    cfn_name_property = "Name"

    @classmethod
    def create(
        cls, resource_name: str, props: Properties, account_id: str, region_name: str
    ) -> SecretsManagerSecret:
        backend = secretsmanager_backends[account_id][region_name]
        generate = props.get("GenerateSecretString")
        reply = json.loads(
            backend.create_secret(
                name=resource_name,
                secret_string=_generated_secret(generate)
                if generate
                else props.get("SecretString"),
                secret_binary=None,
                description=props.get("Description"),
                tags=props.get("Tags"),
                kms_key_id=props.get("KmsKeyId"),
                client_request_token=None,
                replica_regions=[],
                force_overwrite=False,
            )
        )
        arn = reply["ARN"]
        # Ref of a secret is its ARN.
        return cls(
            arn,
            {"Id": arn},
            lambda: backend.delete_secret(arn, None, force_delete_without_recovery=True),
        )


class SnsSubscription(BackendResource, CloudFormationModel):
    cfn_type = "AWS::SNS::Subscription"

    @classmethod
    def create(
        cls, resource_name: str, props: Properties, account_id: str, region_name: str
    ) -> SnsSubscription:
        backend = sns_backends[account_id][region_name]
        subscription = backend.subscribe(props["TopicArn"], props["Endpoint"], props["Protocol"])
        arn = subscription.arn
        return cls(arn, {}, lambda: backend.unsubscribe(arn))


class SnsTopicPolicy(BackendResource, CloudFormationModel):
    cfn_type = "AWS::SNS::TopicPolicy"

    @classmethod
    def create(
        cls, resource_name: str, props: Properties, account_id: str, region_name: str
    ) -> SnsTopicPolicy:
        backend = sns_backends[account_id][region_name]
        for topic_arn in props["Topics"]:
            backend.set_topic_attribute(topic_arn, "Policy", json.dumps(props["PolicyDocument"]))
        return cls(resource_name, {}, lambda: None)


class S3BucketPolicy(BackendResource, CloudFormationModel):
    cfn_type = "AWS::S3::BucketPolicy"

    @classmethod
    def create(
        cls, resource_name: str, props: Properties, account_id: str, region_name: str
    ) -> S3BucketPolicy:
        backend = s3_backends[account_id][get_partition(region_name)]
        bucket = props["Bucket"]
        backend.put_bucket_policy(bucket, json.dumps(props["PolicyDocument"]).encode())
        return cls(resource_name, {}, lambda: backend.delete_bucket_policy(bucket))


class CodeCommitRepository(BackendResource, CloudFormationModel):
    attribute_names = frozenset({"Arn", "CloneUrlHttp", "CloneUrlSsh", "Name"})

    cfn_type = "AWS::CodeCommit::Repository"
    cfn_name_property = "RepositoryName"

    @classmethod
    def create(
        cls, resource_name: str, props: Properties, account_id: str, region_name: str
    ) -> CodeCommitRepository:
        backend = codecommit_backends[account_id][region_name]
        metadata = backend.create_repository(resource_name, props.get("RepositoryDescription", ""))
        attributes = {
            "Arn": metadata["Arn"],
            "CloneUrlHttp": metadata["cloneUrlHttp"],
            "CloneUrlSsh": metadata["cloneUrlSsh"],
            "Name": resource_name,
        }
        # Ref of a repository is its id.
        return cls(
            metadata["repositoryId"], attributes, lambda: backend.delete_repository(resource_name)
        )


class ScalableTarget(BackendResource, CloudFormationModel):
    cfn_type = "AWS::ApplicationAutoScaling::ScalableTarget"

    @classmethod
    def create(
        cls, resource_name: str, props: Properties, account_id: str, region_name: str
    ) -> ScalableTarget:
        backend = applicationautoscaling_backends[account_id][region_name]
        namespace, resource_id = props["ServiceNamespace"], props["ResourceId"]
        dimension = props["ScalableDimension"]
        backend.register_scalable_target(
            namespace,
            resource_id,
            dimension,
            min_capacity=int(props["MinCapacity"]),
            max_capacity=int(props["MaxCapacity"]),
            role_arn=props.get("RoleARN", ""),
            suspended_state=props.get("SuspendedState", ""),
        )
        # Ref of a scalable target: "<resource id>|<dimension>|<namespace>".
        return cls(
            f"{resource_id}|{dimension}|{namespace}",
            {},
            lambda: backend.deregister_scalable_target(namespace, resource_id, dimension),
        )


class ScalingPolicy(BackendResource, CloudFormationModel):
    attribute_names = frozenset({"Arn"})

    cfn_type = "AWS::ApplicationAutoScaling::ScalingPolicy"
    cfn_name_property = "PolicyName"

    @classmethod
    def create(
        cls, resource_name: str, props: Properties, account_id: str, region_name: str
    ) -> ScalingPolicy:
        backend = applicationautoscaling_backends[account_id][region_name]
        if "ScalingTargetId" in props:
            resource_id, dimension, namespace = props["ScalingTargetId"].split("|")
        else:
            resource_id = props["ResourceId"]
            dimension, namespace = props["ScalableDimension"], props["ServiceNamespace"]
        policy_type = props.get("PolicyType")
        body_key = (
            "TargetTrackingScalingPolicyConfiguration"
            if policy_type == "TargetTrackingScaling"
            else "StepScalingPolicyConfiguration"
        )
        policy = backend.put_scaling_policy(
            resource_name, namespace, resource_id, dimension, props.get(body_key, {}), policy_type
        )
        arn = policy.policy_arn
        return cls(
            arn,
            {"Arn": arn},
            lambda: backend.delete_scaling_policy(resource_name, namespace, resource_id, dimension),
        )


EXTRA_MODELS: tuple[type[CloudFormationModel], ...] = (
    SecretsManagerSecret,
    SnsSubscription,
    SnsTopicPolicy,
    S3BucketPolicy,
    CodeCommitRepository,
    ScalableTarget,
    ScalingPolicy,
)
