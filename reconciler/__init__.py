"""reconciler: one truthful answer per media request — where is it, and is it really watchable?"""

__version__ = "0.1.0"
