"""The pure domain: jobs, operations, device groups, their state machines and limits. No I/O."""
