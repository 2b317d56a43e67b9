"""The template tests' renderer lives with the tools that also read templates (the rehearsal)."""

from tools.cfn_render import Renderer

__all__ = ["Renderer"]
