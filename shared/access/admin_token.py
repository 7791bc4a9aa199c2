"""The first API token, made outside the API: an operator with access to the app's storage runs

    python -m shared.access.admin_token --id first-admin [--role Administrator] [--days 30]

with the app's settings in the environment (AzureWebJobsStorage, or its identity-based
`__accountName` and a signed-in Azure CLI), and gets the token on stdout, once. There is no
default administrator and no password: access starts from whoever can write the app's storage
(or from ENTRA_ADMINISTRATORS, set by the deployment). `make run` makes one for development.
"""
from __future__ import annotations

import argparse
import sys
from datetime import timedelta

from shared.access import api_tokens
from shared.clock import utc_now
from shared.domain.access import ROLES, validate_access_id
from shared.repositories.access import ApiTokenRepository
from shared.settings import Settings

ROLES_BY_NAME = {role.display_name.lower(): role for role in ROLES}


def create_token(tables, settings: Settings, token_id: str, role_name: str = "Administrator", days: int = 30,
                 created_by: str = "system:admin_token") -> str:
    """Store a new token (AlreadyExists if the id is taken) and return its string."""
    role = ROLES_BY_NAME[role_name.lower()]
    now = utc_now()
    minted = api_tokens.mint(validate_access_id(token_id, "id"), (role.id,), now + timedelta(days=days),
                             settings.app_name, now, created_by=created_by)
    ApiTokenRepository(tables).add(minted.record)
    return minted.token


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m shared.access.admin_token", description=__doc__.split("\n\n")[0])
    parser.add_argument("--id", required=True, help="the token's id (letters, digits, - and _)")
    parser.add_argument("--role", default="Administrator", choices=[role.display_name for role in ROLES])
    parser.add_argument("--days", type=int, default=30, help="days until it expires (1-730)")
    args = parser.parse_args(argv)
    if not 1 <= args.days <= 730:
        parser.error("--days must be from 1 to 730")
    from shared.bootstrap import services  # the app's own composition root: its storage, as configured
    print(create_token(services().tables, services().settings, args.id, args.role, args.days))
    return 0


if __name__ == "__main__":
    sys.exit(main())
