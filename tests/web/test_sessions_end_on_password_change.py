"""A password change signs the user out of every browser."""

from sqlalchemy import func, select

from registry.db.hub import WebSession
from registry.services import accounts
from registry.services.web_sessions import start_session


async def test_changing_the_password_ends_browser_sessions(registry, admin_session):
    user = await admin_session(lambda s: accounts.create_user(s, "dora", "dora-password"))
    await admin_session(lambda s: start_session(s, user.id))

    async def count(session) -> int:  # type: ignore[no-untyped-def]
        return await session.scalar(select(func.count()).select_from(WebSession)
                                    .where(WebSession.user_id == user.id))

    assert await admin_session(count) == 1
    await admin_session(lambda s: accounts.set_password(s, "dora", "another-password"))
    assert await admin_session(count) == 0
