"""Post-incident accountability for emergency bypasses: the follow-up issue and its state."""
