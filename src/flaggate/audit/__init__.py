"""The audit trail: hash-chained JSON Lines records of every merged change, kept in git."""
