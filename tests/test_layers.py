"""The package's floors: every import in ferkit (at the top of a module or inside a
function) goes to a module on the same floor or below, so there is no cycle; and the
measures of a model are defined in one place."""

import ast

import pytest
from conftest import ROOT

PACKAGE = ROOT / "ferkit"

# Lowest first. A module's floor is that of the longest prefix listed.
FLOORS = [
    # constants, errors, the machine, the caps, native chatter, drawing
    ["ferkit", "ferkit.errors", "ferkit.machine", "ferkit.limits", "ferkit.quiet"]
    + ["ferkit.plotting", "ferkit.tables"],
    # the data, the augmentation parts, a run's settings (all without Keras)
    ["ferkit.data", "ferkit.augment", "ferkit.train.config"],
    # models, precision, the runtimes of exported models
    ["ferkit.models", "ferkit.precision", "ferkit.runtimes"],
    # files on disk
    ["ferkit.runs"],
    # scoring a model
    ["ferkit.evaluate"],
    # what stores a run, and what calibrates one
    ["ferkit.record", "ferkit.calibration"],
    # shipping a stored run under another name
    ["ferkit.shipping"],
    # training, deployment, analysis, the browser page and the flags the entry scripts share
    ["ferkit.train", "ferkit.deploy", "ferkit.analysis", "ferkit.cli", "ferkit.web"],
    # the documents written from records
    ["ferkit.cards", "ferkit.report"],
]


def module_name(path):
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def floor(name):
    prefixes = [(p, i) for i, names in enumerate(FLOORS) for p in names]
    matches = [(len(p), i) for p, i in prefixes if name == p or name.startswith(p + ".")]
    assert matches, f"{name} is on no floor; add it to FLOORS"
    return max(matches)[1]


def imports(name):
    """The ferkit modules that module `name` imports, anywhere in it."""
    found = set()
    for node in ast.walk(ast.parse(MODULES[name].read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            targets = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        else:
            continue
        found |= {t for t in targets if t in MODULES and t != name}
    return found


@pytest.mark.parametrize("name", sorted(MODULES))
def test_no_import_goes_up_a_floor(name):
    # The package's __init__ files only gather names from below them.
    upward = [t for t in imports(name) if floor(t) > floor(name) and not t.startswith(name)]
    assert not upward, f"{name} (floor {floor(name)}) imports {upward} from above"


def test_no_import_cycle():
    graph = {name: imports(name) for name in MODULES}
    state = {}

    def visit(node, path):
        state[node] = "open"
        for nxt in graph[node]:
            if state.get(nxt) == "open":
                raise AssertionError("cycle: " + " -> ".join(path[path.index(nxt) :] + [nxt]))
            if nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = "done"

    for name in graph:
        if name not in state:
            visit(name, [name])


@pytest.mark.parametrize(
    "function",
    [
        "predict_probs",
        "accuracy",
        "expected_calibration_error",
        "negative_log_likelihood",
        "per_class_accuracies",
        "ferplus_agreement",
        "tta_views",
    ],
)
def test_each_measure_is_defined_once(function):
    defined = [
        name
        for name, path in MODULES.items()
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.FunctionDef) and node.name == function
    ]
    assert defined == ["ferkit.evaluate"]


def test_record_imports_nothing_above_runs_and_no_keras():
    tree = ast.parse(MODULES["ferkit.record"].read_text())
    names = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    names |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert not {"keras", "tensorflow"} & names
    assert all(floor(t) <= floor("ferkit.runs") for t in imports("ferkit.record"))
