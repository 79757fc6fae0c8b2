"""The contract per service, loaded once per session (Jellyfin's spec is 2 MB).

The OpenAPI contracts need `../shared/api/specs/` (a sibling of the repository, present on the
developers' machines and in CI, absent from users' clones): without it those tests skip. Shoko's
contract is `reconciler/schemas/shoko.json`, in the repository, so its checks always run.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.contract.spec_support import SPECS_DIR, Contract, load_contract


@pytest.fixture(scope="session")
def contract() -> Callable[[str], Contract]:
    def get(service: str) -> Contract:
        found = load_contract(service)
        if found is None:
            pytest.skip(f"the published OpenAPI specs are not at {SPECS_DIR}")
        return found
    return get
