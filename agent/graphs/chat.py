"""The chat graph: receive → think ⇄ act (permissive actions pause for approval) → reply."""

from __future__ import annotations

from typing import Literal

from langgraph.graph import START, StateGraph
from langgraph.graph.state import CompiledStateGraph

from agent.graphs._chat_nodes import ChatNodes
from agent.graphs.state import ChatInput, ChatState
from agent.runtime import Runtime

__all__ = ["build_chat_graph"]


def build_chat_graph(runtime: Runtime, brain: str = "rules") -> CompiledStateGraph:
    """Wire the chat loop for ``brain`` over ``runtime``."""
    nodes = ChatNodes(runtime, brain)
    max_steps = runtime.settings.llm_max_steps

    def after_think(state: ChatState) -> Literal["act", "think", "__end__"]:
        if state.get("pending"):
            return "act"
        return "think" if state.get("retry") else "__end__"

    def after_act(state: ChatState) -> Literal["think", "__end__"]:
        return "think" if state.get("steps", 0) < max_steps else "__end__"

    builder = StateGraph(ChatState, input_schema=ChatInput)
    builder.add_node("receive", nodes.receive)
    builder.add_node("think", nodes.think)
    builder.add_node("act", nodes.act)
    builder.add_edge(START, "receive")
    builder.add_edge("receive", "think")
    builder.add_conditional_edges("think", after_think)
    builder.add_conditional_edges("act", after_act)
    return builder.compile(checkpointer=runtime.checkpointer, name="chat")
