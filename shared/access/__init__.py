"""Access: authenticating callers (IoT Central-style API tokens, Microsoft Entra bearer tokens,
App Service Authentication when trusted), the per-caller rate limit, and the first administrator.

The HTTP layer calls `AccessControl.admit(headers, action)` (shared.access.authentication) before
any use case runs. The rules (roles, actions, the permission table) are shared.domain.access.
"""
