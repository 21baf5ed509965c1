"""Exceptions raised by the client.

Every exception derives from ValtronicsError so that an application can catch the SDK's
failures in one place, and each one that comes from a server reply carries the server's error
code (`code`) and the reply itself (`reply`): the code is the stable part of the protocol
(docs/protocol.md, "Error codes"), the message is for people."""


class ValtronicsError(Exception):
    """Base class of every error raised by valtronics_client."""


class ServerError(ValtronicsError):
    """The server answered a request with an error.

    code: the server's error code (`invalid_filter`, `forbidden`, ...).
    message: the server's human-readable message.
    reply: the whole reply as a dict."""

    def __init__(self, code, message=None, reply=None):
        self.code = code
        self.message = message
        self.reply = reply
        super().__init__(f"{code}: {message}" if message else str(code))


class AuthenticationError(ServerError):
    """`auth` was refused (`invalid_token`, `token_expired`, `token_not_yet_valid`,
    `missing_token`, `too_many_connections`) or the server closed the connection with 4001.

    Raised by connect() and authenticate(); after a reconnect it ends listen() and `async for`
    instead of starting another attempt, because retrying a rejected token cannot succeed."""


class RequestError(ServerError):
    """A request other than `auth` got an `error` reply (e.g. `rate_limited`)."""


class SubscriptionError(RequestError):
    """subscribe() or unsubscribe() got an `error` reply (`unknown_channel`, `unknown_filter`,
    `invalid_filter`, `forbidden`, `channel_not_allowed`, `too_many_subscriptions`, ...)."""


class ConnectionClosedError(ValtronicsError):
    """The WebSocket closed.

    Raised to a request waiting on the connection that closed (when it is not retried), and by
    listen() / `async for` when the client does not reconnect (reconnect=False, or a close code
    after which reconnecting cannot help: 1002 and 1007 mean the client sent something the
    server could not parse). code and reason are the close frame's (1006 when none came)."""

    def __init__(self, code=None, reason=""):
        self.code = code
        self.reason = reason
        super().__init__(f"connection closed: {code} {reason}".rstrip())


class ReconnectFailedError(ConnectionClosedError):
    """max_reconnect_attempts attempts in a row failed; `last_error` is the last one's cause."""

    def __init__(self, attempts, last_error=None, code=None, reason=""):
        self.attempts = attempts
        self.last_error = last_error
        super().__init__(code, reason)
        self.args = (f"gave up after {attempts} reconnect attempt(s): {last_error!r}",)


class TokenProviderError(ValtronicsError):
    """The token_provider callback raised or returned something that is not a non-empty
    string; the original exception is the __cause__."""


class NotConnectedError(ValtronicsError):
    """A request was made before connect() succeeded."""


class ClientClosedError(ValtronicsError):
    """The client was closed with disconnect() while a request waited, or a request was made
    after disconnect()."""


class RequestTimeoutError(ValtronicsError, TimeoutError):
    """No reply within request_timeout (which includes the time spent waiting for a
    reconnect)."""
