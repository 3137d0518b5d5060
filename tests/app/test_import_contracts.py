"""The shape of the code, checked from its imports (grimp reads them without running
anything): the engine is pure, the app never imports its jobs, and the rules never
import the views that call them."""

from __future__ import annotations

import sys

import grimp
import pytest

ENGINE = "coordinator.matching.engine"
# What a pure solver may use besides the standard library.
ENGINE_MAY_IMPORT = {"numpy", "ortools"}
VIEW_MODULES = {"pages", "admin_pages", "auth_pages", "api", "forms", "views"}


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph("coordinator", "jobs", include_external_packages=True)


def test_the_engine_imports_no_flask_database_or_app_module(graph):
    allowed = ENGINE_MAY_IMPORT | set(sys.stdlib_module_names)
    outside = {
        f"{module} -> {imported}"
        for module in graph.find_descendants(ENGINE) | {ENGINE}
        for imported in graph.find_modules_directly_imported_by(module)
        if not imported.startswith(ENGINE) and imported.split(".")[0] not in allowed
    }
    assert outside == set()
    assert graph.find_descendants(ENGINE) >= {f"{ENGINE}.solver", f"{ENGINE}.repair"}


def test_the_app_never_imports_jobs(graph):
    chain = graph.find_shortest_chain(importer="coordinator", imported="jobs", as_packages=True)
    assert chain is None
    assert graph.chain_exists("jobs", "coordinator", as_packages=True)  # jobs call features


def test_rules_never_import_the_views_that_call_them(graph):
    modules = {m for m in graph.modules if m.startswith("coordinator.")}
    views = {m for m in modules if m.rsplit(".", 1)[-1] in VIEW_MODULES}
    operations = {m for m in modules if m.endswith(".operations")}
    assert len(operations) >= 9 and len(views) >= 20
    chains = [
        graph.find_shortest_chain(importer=rule, imported=view)
        for rule in sorted(operations)
        for view in sorted(views)
    ]
    assert [chain for chain in chains if chain] == []
