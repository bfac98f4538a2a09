"""Pull-request facts: the protocol the evaluation reads, and its implementations."""
