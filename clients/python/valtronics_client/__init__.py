"""Python client SDK of the Valtronics real-time WebSocket API (asyncio, `websockets`).

    from valtronics_client import ValtronicsWebSocketClient

See README.md and docs/clients/python.md."""

import logging

from .backoff import Backoff
from .client import ValtronicsWebSocketClient
from .errors import (AuthenticationError, ClientClosedError, ConnectionClosedError,
                     NotConnectedError, ReconnectFailedError, RequestError,
                     RequestTimeoutError, ServerError, SubscriptionError, TokenProviderError,
                     ValtronicsError)

__version__ = "0.1.0"

# A library does not configure logging: the application decides what is shown.
logging.getLogger("valtronics_client").addHandler(logging.NullHandler())

__all__ = [
    "ValtronicsWebSocketClient", "Backoff",
    "ValtronicsError", "ServerError", "AuthenticationError", "RequestError",
    "SubscriptionError", "ConnectionClosedError", "ReconnectFailedError",
    "TokenProviderError", "NotConnectedError", "ClientClosedError", "RequestTimeoutError",
    "__version__",
]
