"""Gmail: send, read, search and organise email; start workflows on new email."""

from __future__ import annotations

from typing import Any, ClassVar

from autofy.connectors.gmail.actions.get_email import GetEmail
from autofy.connectors.gmail.actions.labels import AddLabel, ArchiveEmail, MarkRead, MarkUnread, RemoveLabel
from autofy.connectors.gmail.actions.reply_to_email import ReplyToEmail
from autofy.connectors.gmail.actions.search_emails import SearchEmails
from autofy.connectors.gmail.actions.send_email import SendEmail
from autofy.connectors.gmail.client import DEFAULT_API_BASE, GmailClient
from autofy.connectors.gmail.oauth import AUTHORIZE_URL, SCOPES, TOKEN_URL, authorization_url, exchange_code
from autofy.connectors.gmail.triggers import NewEmail
from autofy.connectors.sdk import (
    Action,
    AuthSpec,
    ConnectionTestResult,
    Connector,
    ConnectorContext,
    CredentialField,
    OAuth2Spec,
    PollingTrigger,
)

HOW_TO_OBTAIN = """\
1. In the Google Cloud console (console.cloud.google.com), create or pick a project and enable the
   Gmail API (APIs & Services → Library → Gmail API → Enable).
2. Configure the OAuth consent screen (APIs & Services → OAuth consent screen): user type External
   (or Internal for a Workspace domain), app name, support email, and the scopes gmail.readonly,
   gmail.send and gmail.modify. While the app is in Testing, add your address as a test user
   (Google then expires its refresh tokens after 7 days; publish the app to avoid that).
3. Create credentials → OAuth client ID → Web application, and add Autofy's redirect URI
   (<your Autofy URL>/api/v1/integrations/gmail/oauth/callback) under Authorized redirect URIs.
4. Paste the client ID and client secret into Autofy and press Connect: Google asks you to allow
   access, and Autofy stores the refresh token it receives. If Google later reports that access was
   revoked, press Connect again."""


class GmailConnector(Connector):
    service_name = "gmail"
    display_name = "Gmail"
    description = (
        "Send, read, search, label and archive email in a Gmail account; start workflows on new email."
    )
    auth = AuthSpec(
        kind="oauth2",
        fields=[
            CredentialField(
                name="client_id",
                label="OAuth client ID",
                description="The client ID of your Google Cloud OAuth client (Web application).",
                secret=False,
            ),
            CredentialField(
                name="client_secret",
                label="OAuth client secret",
                description="The client secret of the same OAuth client.",
            ),
            CredentialField(
                name="refresh_token",
                label="Refresh token",
                description="Filled in by Autofy when you connect; kept up to date when Google rotates it.",
                required=False,
            ),
            CredentialField(
                name="access_token",
                label="Access token",
                description="Filled in and refreshed by Autofy.",
                required=False,
            ),
            CredentialField(
                name="expires_at",
                label="Access token expiry",
                description="When the access token expires (Unix seconds); maintained by Autofy.",
                secret=False,
                required=False,
            ),
        ],
        oauth2=OAuth2Spec(authorize_url=AUTHORIZE_URL, token_url=TOKEN_URL, scopes=list(SCOPES)),
        how_to_obtain=HOW_TO_OBTAIN,
    )
    default_api_base = DEFAULT_API_BASE
    actions: ClassVar[tuple[Action[Any, Any], ...]] = (
        SendEmail(),
        ReplyToEmail(),
        SearchEmails(),
        GetEmail(),
        AddLabel(),
        RemoveLabel(),
        MarkRead(),
        MarkUnread(),
        ArchiveEmail(),
    )
    triggers: ClassVar[tuple[PollingTrigger[Any, Any], ...]] = (NewEmail(),)

    async def test(self, ctx: ConnectorContext) -> ConnectionTestResult:
        profile = await GmailClient(ctx).profile()
        return ConnectionTestResult(
            ok=True, message=f"Connected to Gmail as {profile.emailAddress}", account=profile.emailAddress
        )


connector = GmailConnector()

__all__ = ["NewEmail", "authorization_url", "connector", "exchange_code"]
