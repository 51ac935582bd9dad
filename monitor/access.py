"""Who may see the app when sign-in is on: an allow-list of e-mail domains.

Streamlit has no access control of its own. When `[auth]` is configured in
`.streamlit/secrets.toml`, the app asks for sign-in through Streamlit's OIDC
(`st.login`) and then admits only e-mails whose domain is in
`[access] allowed_domains` (no list: any signed-in user).
"""

from __future__ import annotations

from collections.abc import Iterable


def allowed(email: object, domains: Iterable[str] | None) -> bool:
    """True when `email` is a real address whose domain is in `domains` (case-insensitive, exact match)."""
    if not isinstance(email, str) or email.count("@") != 1:
        return False
    local, domain = email.strip().lower().split("@")
    if not local or not domain:
        return False
    wanted = [d.strip().lower().lstrip("@") for d in (domains or []) if isinstance(d, str) and d.strip()]
    return not wanted or domain in wanted
