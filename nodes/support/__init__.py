"""The `support` workflow's own nodes, hooks and prompts."""
