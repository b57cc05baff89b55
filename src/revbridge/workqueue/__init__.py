"""The work queue: every problem as a work item, opened, grouped, assigned, resolved, retried and
replayed after a fix (DESIGN.md sections 1 and 6). The web page and the CLI are faces over it."""
