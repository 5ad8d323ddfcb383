"""Typed tools the agent calls. Importing this package registers every tool in ``REGISTRY``."""

from tools import actions, messaging, planning, read, recall, reschedule, verification  # noqa: F401
from tools.base import REGISTRY, ToolContext, call_tool, get_tool, tools_for_role
from tools.errors import ToolError

__all__ = ["REGISTRY", "ToolContext", "ToolError", "call_tool", "get_tool", "tools_for_role"]
