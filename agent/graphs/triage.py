"""The triage graph: sense → decide → guard → act (or queue for approval) → summarize."""

from __future__ import annotations

from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph

from agent.graphs._triage_nodes import TriageNodes
from agent.graphs.state import TriageInput, TriageState
from agent.runtime import Runtime

__all__ = ["build_triage_graph"]


def build_triage_graph(runtime: Runtime) -> CompiledStateGraph:
    """Wire the triage nodes over ``runtime``, checkpointed by its saver."""
    nodes = TriageNodes(runtime)
    builder = StateGraph(TriageState, input_schema=TriageInput)
    builder.add_node("sense", nodes.sense)
    builder.add_node("decide", nodes.decide)
    builder.add_node("guard", nodes.guard)
    builder.add_node("act", nodes.act)
    builder.add_node("summarize", nodes.summarize)
    builder.add_edge(START, "sense")
    builder.add_edge("sense", "decide")
    builder.add_edge("decide", "guard")
    builder.add_edge("guard", "act")
    builder.add_edge("act", "summarize")
    builder.add_edge("summarize", END)
    return builder.compile(checkpointer=runtime.checkpointer, name="triage")
