"""The machinery every task family shares: sources, roles, few-shot pools, hooks, task files."""
