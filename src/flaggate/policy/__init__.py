"""The pure policy engine: rules, stages and the decision."""
