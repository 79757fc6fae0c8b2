"""The reconcile cycle, one module per stage: `run` (the cycle) → `poll_*` (one per service)
→ `observations` → `evidence` → `core.decide` → `apply` → `nudge`."""

from reconciler.cycle.clients import CLIENT_TYPES, Clients, client_type, make_clients
from reconciler.cycle.observations import Observations, SeenRequest, SeriesKey
from reconciler.cycle.run import Reconciler
from reconciler.results import CycleResult, PollOutcome, Transition

__all__ = [
    "CLIENT_TYPES", "Clients", "CycleResult", "Observations", "PollOutcome", "Reconciler",
    "SeenRequest", "SeriesKey", "Transition", "client_type", "make_clients",
]
