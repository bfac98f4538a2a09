"""One module per command; each exposes ``add_arguments`` and ``run`` returning an exit code."""
