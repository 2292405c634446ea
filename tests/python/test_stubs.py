"""The type stubs (.pyi) ship in the package (py.typed) and say what the package has: the same
public names, and the parameters (names, and defaults where the stub gives them) of each function
and method, the native module's included. mypy's stubtest checks more where mypy is installed
(docs/python.md)."""
import ast
import importlib
import inspect
import re

import pytest

import segkit
from segkit import _native

from conftest import ROOT

PACKAGE = ROOT / "bindings" / "python" / "segkit"
STUBS = {p.stem: ast.parse(p.read_text(), str(p)) for p in PACKAGE.glob("*.pyi")}


def test_every_module_has_a_stub_and_the_package_is_marked_typed():
    assert (PACKAGE / "py.typed").is_file()
    modules = {p.stem for p in PACKAGE.glob("*.py")} | {"_segkit"}
    assert modules == set(STUBS)


def test_the_stub_exports_what_the_package_exports():
    stub_all = next(
        n.value for n in STUBS["__init__"].body
        if isinstance(n, ast.Assign) and any(getattr(t, "id", None) == "__all__" for t in n.targets)
    )
    assert sorted(ast.literal_eval(stub_all)) == sorted(segkit.__all__)


def stub_functions(tree):
    """{qualified name: [ast.FunctionDef, ...]} (several for overloads) of a stub module."""
    found = {}

    def visit(body, prefix):
        for node in body:
            if isinstance(node, ast.FunctionDef):
                found.setdefault(prefix + node.name, []).append(node)
            elif isinstance(node, ast.ClassDef):
                visit(node.body, prefix + node.name + ".")

    visit(tree.body, "")
    return found


def is_property(node):
    return any(getattr(d, "id", None) == "property" for d in node.decorator_list)


def stub_parameters(node):
    """[(name, default or inspect.Parameter.empty; None where the stub writes `...`)]"""
    args = node.args
    positional = args.posonlyargs + args.args
    defaults = [inspect.Parameter.empty] * (len(positional) - len(args.defaults)) + list(args.defaults)
    defaults += list(args.kw_defaults)
    out = []
    for arg, default in zip(positional + args.kwonlyargs, defaults):
        if default is not inspect.Parameter.empty and default is not None:
            default = ast.literal_eval(default) if not (
                isinstance(default, ast.Constant) and default.value is Ellipsis) else None
        out.append((arg.arg, default))
    return out


def runtime_module(module):
    return segkit if module == "__init__" else importlib.import_module(f"segkit.{module}")


@pytest.mark.parametrize("module", ["__init__", "pipeline", "sam", "_images", "evaluate", "unet"])
def test_python_signatures_match_their_stubs(module):
    runtime = runtime_module(module)
    checked = 0
    for name, nodes in stub_functions(STUBS[module]).items():
        obj = runtime
        for part in name.split("."):
            obj = getattr(obj, part)
        if isinstance(obj, property) or is_property(nodes[0]):
            continue
        try:
            signature = inspect.signature(obj)
        except ValueError:  # a native function re-exported: test_native_signatures_match_their_stubs
            continue
        params = [p for p in signature.parameters.values() if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
        has_kwargs = any(p.kind == p.VAR_KEYWORD for p in signature.parameters.values())
        for node in nodes:
            stub = stub_parameters(node)
            names = [n for n, _ in stub]
            runtime_names = [p.name for p in params]
            if has_kwargs:  # keyword-only parameters the stub spells out for **kwargs
                assert names[: len(runtime_names)] == runtime_names, name
            else:
                assert names == runtime_names, name
            for (stub_name, stub_default), p in zip(stub, params):
                if stub_default is not None and stub_default is not inspect.Parameter.empty:
                    assert p.default == stub_default, f"{name}({stub_name})"
                if stub_default is inspect.Parameter.empty:
                    assert p.default is inspect.Parameter.empty, f"{name}({stub_name})"
        checked += 1
    assert checked >= 1


def test_the_image_segmentation_stub_gives_the_pipeline_defaults():
    pipeline_module = importlib.import_module("segkit.pipeline")
    for node in stub_functions(STUBS["pipeline"])["ImageSegmentationPipeline.__call__"]:
        keyword = {n: d for n, d in stub_parameters(node)[2:]}
        assert keyword == pipeline_module._IMAGE_SEGMENTATION_DEFAULTS


def native_parameters(doc):
    """[(name, default text or None)] from the first line of a pybind11 docstring."""
    head = doc.strip().splitlines()[0]
    inside = head[head.index("(") + 1 : head.rindex(")")]
    out = []
    for part in re.split(r",\s*(?=\w+:)", inside) if inside.strip() else []:
        name, _, rest = part.partition(":")
        if name.strip() == "*":  # keyword-only from here (py::kw_only)
            continue
        default = rest.split("=", 1)[1].strip() if "=" in rest else None
        out.append((name.strip(), default))
    return out


def test_native_signatures_match_their_stubs():
    checked = 0
    for name, nodes in stub_functions(STUBS["_segkit"]).items():
        obj = _native
        for part in name.split("."):
            obj = getattr(obj, part)
        if is_property(nodes[0]):
            owner, attr = name.rsplit(".", 1)
            assert isinstance(inspect.getattr_static(getattr(_native, owner), attr), property), name
            continue
        stub = stub_parameters(nodes[0])
        runtime = native_parameters(obj.__doc__)
        assert [n for n, _ in stub] == [n for n, _ in runtime], name
        for (stub_name, stub_default), (_, runtime_default) in zip(stub, runtime):
            if stub_default is inspect.Parameter.empty:
                assert runtime_default is None, f"{name}({stub_name})"
            elif stub_default is not None:
                assert runtime_default is not None, f"{name}({stub_name})"
                if isinstance(stub_default, str):
                    assert runtime_default == repr(stub_default), f"{name}({stub_name})"
                elif isinstance(stub_default, (bool, float, int)):
                    assert ast.literal_eval(runtime_default) == stub_default, f"{name}({stub_name})"
        checked += 1
    assert checked >= 10
    # Every public class and function of the native module has a stub.
    stubbed = {n.name for n in STUBS["_segkit"].body if isinstance(n, (ast.ClassDef, ast.FunctionDef))}
    stubbed = {n for n in stubbed if not n.startswith("_")}  # stub-only types (TypedDicts) are private
    public = {n for n in dir(_native) if not n.startswith("_")}
    assert public == stubbed
