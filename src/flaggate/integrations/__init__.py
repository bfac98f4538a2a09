"""Services beyond GitHub: ticket trackers (Jira, GitHub issues) and notification targets."""
