"""The store: everything reconciler keeps, in one SQLite file, and all the SQL that reads and
writes it (this package and nowhere else).

- `database.Store`: requests, timelines, episodes, observations, poll records, meta facts and
  notifications, written in one transaction per cycle.
- `schema`: the migrations and opening a database.
- `index.ItemIndex` (`Store.items`): the media server's library, by ProviderId.
- `pages.PageReads` (`Store.pages`): the status page's read-only queries.
- `retention.Retention` (`Store.retention`): what is pruned so nothing grows with time alone.
- `rows`: the plain values read and written.
"""

from reconciler.errors import StoreError
from reconciler.store.database import Store
from reconciler.store.rows import (
    EpisodeRow,
    NoticeRow,
    PollRow,
    PruneCounts,
    RequestRow,
    TimelineEntry,
)
from reconciler.store.schema import SCHEMA_VERSION

__all__ = [
    "SCHEMA_VERSION", "EpisodeRow", "NoticeRow", "PollRow", "PruneCounts", "RequestRow", "Store",
    "StoreError", "TimelineEntry",
]
