"""The `documents` workflow's own nodes, hooks and prompts."""
