"""The ticket tracker the settings name."""

from __future__ import annotations

from collections.abc import Mapping

from github.Repository import Repository

from flaggate.integrations.github_issues import GitHubIssues
from flaggate.integrations.jira import JiraTickets
from flaggate.integrations.tickets import TicketProvider
from flaggate.model.settings import Tickets


def tracker(
    settings: Tickets, repo: Repository, env: Mapping[str, str] | None = None
) -> TicketProvider:
    """Jira (credentials from the environment) or the repository's GitHub issues; raises
    `TicketError` (``config``) when Jira's URL or token is not set."""
    if settings.provider == "github":
        return GitHubIssues(repo)
    return JiraTickets.from_settings(settings, env)
