"""One module per upstream service. Only these modules talk HTTP."""
