"""Registration of the local models with moto, and what moto does for every other type.

moto looks models up through `moto.cloudformation.parsing.get_model_map` and creates resources
through `parsing.parse_and_create_resource`, and resolves intrinsics through `parsing.clean_json`,
all module globals (the map is cached). Registering clears that cache so it sees the models
defined in `cfn_models` and `cfn_models_extra`, and swaps the globals for versions that (1) stand
a `Placeholder` in for a type nobody models instead of dropping it, (2) honour DependsOn and
(3) fail the stack on an `Fn::GetAtt` moto cannot answer instead of leaving the intrinsic in the
resource. `unregister_placeholders` swaps them back.
"""

from __future__ import annotations

import logging
from typing import Any

from moto.cloudformation import parsing
from moto.cloudformation.exceptions import ValidationError

from tools.local_deploy.cfn_models import LOCAL_MODELS, Properties
from tools.local_deploy.cfn_models_extra import EXTRA_MODELS

logger = logging.getLogger("moto")


class Placeholder:
    """Stands in for a resource of a type nobody models, so the stack still creates.

    moto skips such a resource with a log line and resolves `Ref`/`Fn::Sub` of it to nothing,
    which breaks whatever refers to it (a nested stack's parameter ends up holding a literal
    `${Rule}`). A placeholder creates nothing in any backend; it only answers `Ref` with the
    resource's name (or a generated one) and `Fn::GetAtt` with a made-up ARN or that name. The
    deployment report lists every placeholder as unmodelled: the type is never silently dropped.
    It is deliberately not a CloudFormationModel subclass, so it never counts as modelled.
    """

    NAME_PROPERTIES = (
        "Name",
        "EcrRepositoryPrefix",
        "TopicName",
        "RepositoryName",
        "SecretName",
        "PolicyName",
        "RuleName",
        "ReportGroupName",
    )

    def __init__(self, resource_type: str, physical_resource_id: str, region: str, account: str):
        self.resource_type = resource_type
        self.physical_resource_id = physical_resource_id
        self._arn_prefix = f"arn:aws:{resource_type.split('::')[1].lower()}:{region}:{account}"

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return True

    @classmethod
    def create_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: Properties,
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> Placeholder:
        props = cloudformation_json.get("Properties", {})
        named = [props[key] for key in cls.NAME_PROPERTIES if isinstance(props.get(key), str)]
        resource_type = str(kwargs.get("ResourceType", cloudformation_json.get("Type", "?")))
        logger.warning("Placeholder (not modelled, nothing created) for %s", resource_type)
        return cls(resource_type, named[0] if named else resource_name, region_name, account_id)

    def get_cfn_attribute(self, attribute_name: str) -> str:
        if attribute_name.endswith("Arn"):
            kind = self.resource_type.rsplit("::", 1)[-1].lower()
            return f"{self._arn_prefix}:{kind}/{self.physical_resource_id}"
        return self.physical_resource_id

    def is_created(self) -> bool:
        return True

    def delete(self, account_id: str, region_name: str) -> None:
        """Nothing was created."""


class _ModelMapWithPlaceholders(dict[str, Any]):
    """moto's type -> model map, answering `Placeholder` for any other AWS:: type."""

    def __contains__(self, key: object) -> bool:
        return super().__contains__(key) or (isinstance(key, str) and key.startswith("AWS::"))

    def __missing__(self, key: str) -> type[Placeholder]:
        return Placeholder


_moto_model_map = parsing.get_model_map
_moto_parse_and_create_resource = parsing.parse_and_create_resource
_moto_clean_json = parsing.clean_json


class UnresolvedAttributeError(ValidationError):
    """An `Fn::GetAtt` the emulator cannot answer: the stack fails, naming it."""


def _clean_json_resolving_every_attribute(resource_json: Any, resources_map: Any) -> Any:
    """moto's intrinsic resolution, except that an attribute it cannot resolve fails the stack.

    moto only logs a warning for an attribute its model lacks and leaves `{"Fn::GetAtt": ...}`
    in place, so an alarm's dimension would silently hold the intrinsic as text.
    """
    cleaned = _moto_clean_json(resource_json, resources_map)
    unresolved = (
        isinstance(resource_json, dict)
        and "Fn::GetAtt" in resource_json
        and isinstance(cleaned, dict)
        and "Fn::GetAtt" in cleaned
    )
    if unresolved:
        target = resource_json["Fn::GetAtt"]
        name = ".".join(target) if isinstance(target, list) else str(target)
        raise UnresolvedAttributeError(
            message=f"the emulator cannot resolve Fn::GetAtt {name}: its model lacks the "
            "attribute (add it to a model in tools/local_deploy/cfn_models.py)"
        )
    return cleaned


def _parse_and_create_dependencies_first(
    logical_id: str, resource_json: Properties, resources_map: Any, *args: Any, **kwargs: Any
) -> Any:
    """moto creates a resource lazily when another refers to it, ignoring its own DependsOn
    (an ECS service created before its task definition, because a scaling target refers to it).
    CloudFormation never does that: create what it depends on first.
    """
    depends_on = resource_json.get("DependsOn", [])
    for dependency in [depends_on] if isinstance(depends_on, str) else depends_on:
        resources_map[dependency]  # ResourceMap creates on first access
    return _moto_parse_and_create_resource(
        logical_id, resource_json, resources_map, *args, **kwargs
    )


def _model_map_with_placeholders() -> dict[str, Any]:
    return _ModelMapWithPlaceholders(_moto_model_map())


def register_models() -> frozenset[str]:
    """Make moto's CloudFormation see the models above; returns every type it now models.

    Also makes it create a `Placeholder` for every type still unmodelled, honour DependsOn
    when it creates a resource on first reference, and fail on an attribute it cannot resolve
    (moto calls all three through module globals of `moto.cloudformation.parsing`, which is
    what is swapped).
    """
    for cached in (parsing.get_model_list, _moto_model_map, parsing.get_name_type_map):
        cached.cache_clear()
    model_map = _moto_model_map()
    for model in (*LOCAL_MODELS, *EXTRA_MODELS):
        if model_map.get(model.cloudformation_type()) is not model:
            # A moto upgrade changed how models are found: fail loudly, not with a half stack.
            raise RuntimeError(f"could not register {model.cloudformation_type()} with moto")
    parsing.get_model_map = _model_map_with_placeholders  # type: ignore[assignment]
    parsing.parse_and_create_resource = _parse_and_create_dependencies_first
    parsing.clean_json = _clean_json_resolving_every_attribute
    return modelled_types()


def unregister_placeholders() -> None:
    """Give moto back its own lookup and creation (registered models stay: classes can't go)."""
    parsing.get_model_map = _moto_model_map
    parsing.parse_and_create_resource = _moto_parse_and_create_resource  # type: ignore[assignment]
    parsing.clean_json = _moto_clean_json


def modelled_types() -> frozenset[str]:
    """Resource types moto's CloudFormation really creates (custom resources aside)."""
    return frozenset(
        resource_type
        for resource_type in _moto_model_map()
        if resource_type.startswith("AWS::") and resource_type != "AWS::SERVICE::RESOURCE"
    )
