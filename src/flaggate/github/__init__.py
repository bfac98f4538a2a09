"""GitHub access: the API adapter (PyGithub), the Actions environment and event payloads."""
