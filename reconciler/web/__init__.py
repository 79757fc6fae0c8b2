"""The household's status page: presentation (`present`), page routes (`pages`), the gate
every HTTP request passes (`guard`), and the templates and static files they serve."""
