"""The package's public face: `reconciler.__all__` names what it exports, each resolves, and
the errors form one family under `ReconcilerError` with `NotFound` outside "could not poll"."""

from __future__ import annotations

import subprocess
import sys

import pytest

import reconciler
from reconciler import errors


def test_every_exported_name_resolves() -> None:
    for name in reconciler.__all__:
        assert getattr(reconciler, name) is not None, name


def test_the_lazy_table_and_all_agree() -> None:
    assert set(reconciler.__all__) - {"__version__"} == set(reconciler._HOMES)


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError):
        reconciler.no_such_thing  # noqa: B018


def test_importing_the_package_loads_no_http_stack() -> None:
    code = ("import sys, reconciler.models; "
            "print('httpx' in sys.modules, 'reconciler.cycle' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_the_errors_are_one_family() -> None:
    for name in errors.__all__:
        cls = getattr(errors, name)
        assert issubclass(cls, errors.ReconcilerError), name
    assert not issubclass(errors.NotFound, errors.ServiceError)
    assert issubclass(errors.QueryRejected, errors.ServiceUnavailable)
    for cls in (errors.ServiceUnavailable, errors.AuthFailed, errors.BadResponse):
        assert issubclass(cls, errors.ServiceError)
        assert issubclass(cls, errors.UpstreamError)
    assert issubclass(errors.NotFound, errors.UpstreamError)


def test_the_family_tree_is_drawn_where_it_is_defined() -> None:
    doc = errors.__doc__ or ""
    for name in errors.__all__:
        assert name in doc, f"{name} is missing from the tree at the top of errors.py"
