"""The rules a definition's step graph must follow, checked without recursion (a 500-step chain is fine).

- every goto points at a step; exactly one trigger, and it comes first;
- every step is reachable from the trigger;
- every loop holds a step that really waits on each turn (a delay, an approval, or a wait_for_task whose
  task is assigned inside the loop);
- a step that waits on another step's task, or reads another step's output in a template, comes after that
  step on every path (the other step dominates it).
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any, Callable, Iterator

from .steps.registry import STEP_TYPES, edges_of
from .templates import ROOTS, scan

Report = Callable[[str | None, str, str], None]


@dataclass(frozen=True)
class Node:
    id: str
    order: int
    type: str
    config: dict[str, Any]
    complete: bool  # the whole step passed its model, so its settings can be trusted


def postorder(graph: dict[str, list[str]], roots: list[str], seen: set[str]) -> list[str]:
    """Depth-first post-order from the roots, with an explicit stack."""
    found: list[str] = []
    for root in roots:
        if root in seen:
            continue
        seen.add(root)
        stack: list[tuple[str, Iterator[str]]] = [(root, iter(graph[root]))]
        while stack:
            node, successors = stack[-1]
            for nxt in successors:
                if nxt not in seen:
                    seen.add(nxt)
                    stack.append((nxt, iter(graph[nxt])))
                    break
            else:
                stack.pop()
                found.append(node)
    return found


def strongly_connected(graph: dict[str, list[str]]) -> list[set[str]]:
    """Kosaraju: the components that hold a cycle."""
    finished = postorder(graph, list(graph), set())
    reverse: dict[str, list[str]] = {node: [] for node in graph}
    for node, targets in graph.items():
        for target in targets:
            reverse[target].append(node)
    seen: set[str] = set()
    components = []
    for node in reversed(finished):
        if node not in seen:
            members = set(postorder(reverse, [node], seen))
            if len(members) > 1 or node in graph[node]:
                components.append(members)
    return components


def dominator_tree(graph: dict[str, list[str]], entry: str) -> dict[str, str]:
    """Immediate dominators of the nodes reachable from entry (Cooper, Harvey & Kennedy's iteration)."""
    rpo = list(reversed(postorder(graph, [entry], set())))
    rank = {node: i for i, node in enumerate(rpo)}
    preds: dict[str, list[str]] = {node: [] for node in rpo}
    for node in rpo:
        for target in graph[node]:
            preds[target].append(node)
    idom = {entry: entry}

    def meet(a: str, b: str) -> str:
        while a != b:
            while rank[a] > rank[b]:
                a = idom[a]
            while rank[b] > rank[a]:
                b = idom[b]
        return a

    changed = True
    while changed:
        changed = False
        for node in rpo[1:]:
            done = [p for p in preds[node] if p in idom]
            new = done[0]
            for other in done[1:]:
                new = meet(other, new)
            if idom.get(node) != new:
                idom[node], changed = new, True
    return idom


def runs_before(idom: dict[str, str], earlier: str, later: str) -> bool:
    """True when every path from the entry to `later` passes through `earlier` first."""
    if earlier == later or later not in idom:
        return False
    node = idom[later]
    while True:
        if node == earlier:
            return True
        if idom[node] == node:
            return False
        node = idom[node]


def _cycle_through(graph: dict[str, list[str]], members: set[str], start: str) -> list[str]:
    back: dict[str, str] = {}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for nxt in graph[node]:
            if nxt == start:
                path = [node]
                while path[-1] != start:
                    path.append(back[path[-1]])
                return list(reversed(path))
            if nxt in members and nxt not in back:
                back[nxt] = node
                queue.append(nxt)
    return [start]


def templated_texts(value: Any, path: str) -> Iterator[tuple[str, str]]:
    """Every text inside a config that holds "{{" or "}}", with where it sits (e.g. config.metadata.note). A
    location is spelled out only for containers and for the texts returned: most texts hold no template."""
    stack: list[tuple[Any, str, Any]] = [(value, path, None)]
    while stack:
        item, parent, key = stack.pop()
        if isinstance(item, str):
            if "{{" in item or "}}" in item:
                yield _located(parent, key), item
        elif isinstance(item, dict):
            where = _located(parent, key)
            stack.extend((inner, where, name) for name, inner in reversed(list(item.items())))
        elif isinstance(item, list):
            where = _located(parent, key)
            stack.extend((inner, where, i) for i, inner in reversed(list(enumerate(item))))


def _located(parent: str, key: Any) -> str:
    return parent if key is None else f"{parent}[{key}]" if isinstance(key, int) else f"{parent}.{key}"


def check_graph(nodes: list[Node], report: Report, *, all_ids: set[str] | None = None,
                every_step_usable: bool = True) -> None:
    """`nodes` have unique ids and orders. The graph-wide rules (reachability, loops, what runs first) run only
    when every step of the definition is among them and complete: judged on a broken graph they would only
    repeat the step errors in more confusing words. `all_ids` holds the ids of the steps left out for their
    own errors, so pointing at them is not "does not exist"."""
    nodes = sorted(nodes, key=lambda n: n.order)
    by_id = {n.id: n for n in nodes}
    exists = by_id.keys() | (all_ids or set())
    next_of = {n.id: (nodes[i + 1].id if i + 1 < len(nodes) else None) for i, n in enumerate(nodes)}
    edges = {n.id: edges_of(n.type, n.config if n.complete else {}, next_of[n.id]) for n in nodes}
    starts = [n for n in nodes if STEP_TYPES[n.type].starts]
    kinds = " or ".join(name for name, spec in STEP_TYPES.items() if spec.starts)
    if len(starts) != 1:
        report(None, "steps", f"needs exactly one {kinds} step, found {len(starts)}")
    elif nodes[0] is not starts[0]:
        report(starts[0].id, "order", f"the {starts[0].type} must be the first step (it comes after {nodes[0].id})")
    # (step, field, what it does with the other step, the step it relies on, output key read)
    references: list[tuple[Node, str, str, str, str | None]] = []
    for node in nodes:
        if not node.complete:
            continue
        spec = STEP_TYPES[node.type]
        for edge in edges[node.id]:
            if edge.field and edge.target not in exists:
                report(node.id, edge.field, f"points to {edge.target!r}, which does not exist")
        if spec.task_source_key:
            _check_task_source(node, spec.task_source_key, by_id, exists, report, references)
        for path, text in templated_texts(node.config, "config"):
            result = scan(text)
            for problem in result.problems:
                report(node.id, path, f"template {problem}")
            for placeholder in result.placeholders:
                root, *rest = placeholder.path.split(".")
                if root in ROOTS:
                    continue
                if root not in exists:
                    report(node.id, path, f"template {{{{{placeholder.path}}}}} refers to {root!r}, which is neither a "
                                          f"step id nor one of {', '.join(ROOTS)}")
                    continue
                if root in by_id:
                    references.append((node, path, "reads", root, rest[0] if rest else None))
    if not every_step_usable or not all(n.complete for n in nodes):
        return
    graph = {n.id: [e.target for e in edges[n.id] if e.target in by_id] for n in nodes}
    idom = dominator_tree(graph, nodes[0].id)
    for node in nodes:
        if node.id not in idom:
            report(node.id, "id", "is unreachable: no path from the first step leads to it")
    for members in strongly_connected(graph):
        if not any(_waits_each_turn(by_id[m], members) for m in members):
            start = next(n.id for n in nodes if n.id in members)
            cycle = _cycle_through(graph, members, start)
            report(start, "config", "loop without a waiting step: " + " → ".join(cycle + [start]))
    for node, field, verb, source, key in references:
        if node.id not in idom:
            continue
        source_node = by_id[source]
        if not runs_before(idom, source, node.id):
            report(node.id, field, f"{verb} {source}, which does not run before {node.id} on every path")
        elif key is not None:
            outputs = STEP_TYPES[source_node.type].outputs
            if key not in outputs:
                has = f"has only {', '.join(outputs)}" if outputs else "has no output"
                report(node.id, field, f"reads {source}.{key}, but a {source_node.type} step {has}")


def _check_task_source(node: Node, key: str, by_id: dict[str, Node], exists: set[str], report: Report,
                       references: list) -> None:
    source_id = node.config.get(key)
    source = by_id.get(source_id)
    field = f"config.{key}"
    if source_id not in exists:
        report(node.id, field, f"points to {source_id!r}, which does not exist")
    if source is None:
        return
    if STEP_TYPES[source.type].task_type != "standard":
        kinds = ", ".join(n for n, s in STEP_TYPES.items() if s.task_type == "standard")
        report(node.id, field, f"{source.id} is a {source.type} step, which assigns no task to wait for ({kinds} does)")
        return
    references.append((node, field, "waits on the task of", source.id, None))


def _waits_each_turn(node: Node, loop: set[str]) -> bool:
    spec = STEP_TYPES[node.type]
    if not spec.waits:
        return False
    source = spec.task_source(node.id, node.config)
    return source is None or source in loop
