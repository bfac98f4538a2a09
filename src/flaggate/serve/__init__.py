"""Serving flags: the flag set of a catalog written in formats OpenFeature providers read
(:mod:`flaggate.serve.formats`), and flags brought in from such files
(:mod:`flaggate.serve.flagd_import`)."""
