"""The benchmark: a cycle's cost against the size of the library and the number of requests."""
