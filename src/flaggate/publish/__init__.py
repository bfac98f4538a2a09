"""Writing results to GitHub: status, sticky comment, review requests, summary and outputs."""
