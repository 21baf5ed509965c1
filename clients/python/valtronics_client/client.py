"""ValtronicsWebSocketClient: the asyncio client of the Valtronics WebSocket API.

It keeps the method names and the `handle_*` hooks of the Python client printed in the
Valtronics WebSocket API spec, and adds what that example leaves out (docs/clients/python.md,
"Where we differ from the spec"): replies matched by `id`, errors raised as exceptions,
reconnecting with backoff, restoring subscriptions, resuming alerts, refreshing tokens and
dropping duplicate updates.

How it runs. connect() opens the socket and authenticates, then starts one background task
(the supervisor) that, for each connection in turn:
  1. starts the reader, which parses every frame, hands replies to the request awaiting them
     (requests.py), drops duplicate updates (sequence.py, alerts.py) and queues everything
     else for the application (inbox.py);
  2. after a reconnect, subscribes again to everything (subscriptions.py);
  3. marks the connection ready, which releases requests waiting for one;
  4. when the reader ends (the socket closed), decides: stop (disconnect(), or a close that
     reconnecting cannot fix) or reconnect with backoff (backoff.py).
The application consumes the queue with listen() (which calls the hooks), `async for`, or
recv(). Hooks are therefore called on the application's side, at its pace, never by the
reader: a slow hook slows consumption, not the handling of replies already read.

Acknowledged alerts (an alerts subscription with `ack: True`, docs/protocol.md,
"Acknowledged alerts"): each alert carries a `delivery_id` that the client acknowledges once
the application has handled it (see _on_frame and _alert_handled)."""

import asyncio
import inspect
import json
import logging
from datetime import datetime, timezone
from urllib.parse import urlsplit, urlunsplit

import websockets
from websockets.exceptions import ConnectionClosed, WebSocketException

from .alerts import AlertTracker
from .backoff import Backoff
from .errors import (AuthenticationError, ClientClosedError, ConnectionClosedError,
                     NotConnectedError, ReconnectFailedError, RequestTimeoutError,
                     SubscriptionError, TokenProviderError, ValtronicsError)
from .inbox import Inbox, InboxClosed
from .requests import PendingRequests
from .sequence import UPDATE_CHANNELS, SeqTracker
from .subscriptions import SubscriptionRegistry

log = logging.getLogger("valtronics_client")

# Server limits (docs/protocol.md, "batch"): messages per batch and bytes per batch frame.
# Re-subscribing sends batches within both, so restoring many subscriptions is a few frames,
# not a burst that would trip the per-connection message rate.
MAX_BATCH = 50
MAX_BATCH_BYTES = 48 * 1024
# limits.max_message_bytes (any frame but a batch) and the delivery ids an `ack` may name.
# Acks go as single frames, never in a batch: the server does not hold a bare `ack` behind a
# catch-up (a replay with ack waits for acks), whereas a batch waits for the catch-up to end.
MAX_MESSAGE_BYTES = 1024
MAX_ACK_IDS = 1000

# Close codes after which a new connection would fail the same way (docs/protocol.md, "Close
# codes"): 1002 and 1007 mean this client sent frames the server cannot parse. 4001 (auth
# failed) is handled apart, as an AuthenticationError.
FATAL_CLOSE_CODES = {1002, 1007}

# Connection failures worth another attempt: refused or reset connections, handshake refusals
# (HTTP 429 connection rate, 503 server full), timeouts, connections closed during the auth.
RETRYABLE = (OSError, asyncio.TimeoutError, WebSocketException,
             ConnectionClosedError)


def _utc_now_iso():
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _with_default_path(url):
    """`ws://host:8000` -> `ws://host:8000/ws`: the server serves WebSockets only on /ws and
    /ws/<channel>, and a bare host would otherwise fail with an HTTP 404 at the handshake."""
    parts = urlsplit(url)
    if parts.path in ("", "/"):
        parts = parts._replace(path="/ws")
    return urlunsplit(parts)


def _cancel_requested():
    """True when the current task was asked to stop although the CancelledError did not
    reach us. Python 3.11's asyncio.wait_for returns (or raises) the inner result when it
    completes in the same loop iteration as the cancellation, dropping the cancellation: a
    refused connection attempt racing asyncio.run()'s final cancellation would then look
    like an ordinary failed attempt and the reconnect loop would go on for ever. Task
    .cancelling() (3.11+) still tells; on older Pythons this returns False."""
    task = asyncio.current_task()
    cancelling = getattr(task, "cancelling", None)
    return bool(cancelling and cancelling())


def _forbidden_error(reply, key, request=None):
    """An `error`-shaped report for one device a `subscribed` reply left out (`forbidden`):
    what handle_subscription_removed (and, for a restore, handle_error) get for it."""
    error = {"type": "error", "error": "forbidden", "channel": key[0], "device_id": key[1],
             "message": f"the token does not cover device {key[1]}", "reply": reply}
    if request is not None:
        error["request"] = request
    return error


async def _maybe_await(value):
    if inspect.isawaitable(value):
        return await value
    return value


def _delivery_id(msg):
    """The `delivery_id` of an alert sent by a subscription with `ack`, or None."""
    did = msg.get("delivery_id")
    if isinstance(did, int) and not isinstance(did, bool) and did >= 1:
        return did
    return None


class _AckedAlert:
    """An alert with a delivery_id, waiting in the inbox: acknowledged (on the connection that
    sent it) once the application has handled it."""
    __slots__ = ("message", "conn", "delivery_id")

    def __init__(self, message, conn, delivery_id):
        self.message = message
        self.conn = conn
        self.delivery_id = delivery_id


class _Connection:
    """One WebSocket: ready once authenticated and re-subscribed, dead once closed. Requests
    wait for a connection that is ready and not dead, so a request that failed on a closing
    socket waits for the next one instead of retrying on the same.

    Delivery ids (acknowledged alerts) belong to it: `acks` are those to acknowledge in the
    next `ack` frame(s) (sent by `ack_task`), `unhandled` those whose alert waits in the inbox
    or is being handled (a redelivery of one of them is acknowledged when it is handled)."""

    def __init__(self, ws):
        self.ws = ws
        self.ready = False
        self.dead = False
        self.acks = []
        self.ack_task = None
        self.unhandled = set()


class ValtronicsWebSocketClient:
    """Client of the Valtronics WebSocket API.

    url: `ws://host:port/ws` (or `/ws/<channel>`); a URL without a path gets `/ws`.
    token: the JWT to authenticate with; may be None when token_provider is given.
    token_provider: callable (sync or async) returning a fresh token string; called on
        `token_expiring` (then `auth` is sent again on the open connection) and before every
        reconnect attempt. Without it the same token is reused.
    reconnect: reconnect when the connection is lost (default True).
    backoff_base, backoff_cap: reconnect delay before attempt n (from 0) is uniform in
        [0, min(cap, base * 2**n)] seconds (exponential backoff, full jitter).
    max_reconnect_attempts: failed attempts in a row before giving up with
        ReconnectFailedError; None (default) never gives up.
    request_timeout: seconds a request (subscribe, unsubscribe, ping, authenticate) may take,
        including the wait for a reconnect.
    open_timeout: seconds for the TCP + WebSocket handshake and the `auth_response`.
    close_timeout: seconds to wait for the close handshake.
    ping_interval, ping_timeout: WebSocket-level keep-alive (detects dead connections);
        None disables it.
    max_queue: messages received but not yet consumed before the client stops reading
        (back-pressure towards the server); 0 for no limit.
    max_size: largest incoming frame in bytes.
    resume_alerts: after a reconnect, ask for the alerts missed since the last one received
        (`since_alert_id`).
    coalesce: ask the server for coalesced frames (extension, docs/protocol.md): several
        messages in one JSON array frame, each still handed over as its own message. Default
        True; a server without the extension is used as before.
    encoding: "json" (default, the spec's protocol) or "msgpack" (extension, docs/protocol.md,
        "MessagePack": the `valtronics.msgpack` subprotocol, every message both ways a
        MessagePack map in a binary frame; needs the `msgpack` package, Debian
        python3-msgpack). The messages handed over are the same dicts either way.
    rng: a random.Random for the backoff jitter (tests)."""

    def __init__(self, url, token=None, *, token_provider=None, reconnect=True,
                 backoff_base=0.5, backoff_cap=30.0, max_reconnect_attempts=None,
                 request_timeout=10.0, open_timeout=10.0, close_timeout=2.0,
                 ping_interval=20.0, ping_timeout=20.0, max_queue=10000, max_size=2 ** 22,
                 resume_alerts=True, coalesce=True, encoding="json", rng=None):
        if token is None and token_provider is None:
            raise ValueError("give a token or a token_provider")
        if encoding not in ("json", "msgpack"):
            raise ValueError(f"encoding must be 'json' or 'msgpack', not {encoding!r}")
        self.encoding = encoding
        self._msgpack = None
        if encoding == "msgpack":
            try:
                import msgpack
            except ImportError as e:
                raise ImportError("encoding='msgpack' needs the msgpack package "
                                  "(pip install msgpack, or Debian's python3-msgpack)") from e
            self._msgpack = msgpack
        self.url = _with_default_path(url)
        self.token = token
        self.token_provider = token_provider
        self.reconnect = reconnect
        self.max_reconnect_attempts = max_reconnect_attempts
        self.request_timeout = request_timeout
        self.open_timeout = open_timeout
        self.close_timeout = close_timeout
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout
        self.max_queue = max_queue
        self.max_size = max_size
        self.resume_alerts = resume_alerts
        self.coalesce = coalesce
        # Messages that came in the same coalesced frame as auth_response, after it: the next
        # reader handles them first.
        self._early = []
        self._backoff = Backoff(backoff_base, backoff_cap, rng)

        # Spec attributes: the current socket (None while disconnected) and whether the client
        # is started (connect() succeeded and neither disconnect() nor a fatal error followed).
        self.websocket = None
        self.running = False
        self.auth = None            # the last successful auth_response
        self.duplicates_dropped = 0  # updates dropped as duplicates (seq or alert replay)

        self._subs = SubscriptionRegistry()
        self._seq = SeqTracker()
        self._alerts = AlertTracker()
        self._pending = PendingRequests()
        self._inbox = None
        self._conn = None
        self._supervisor = None
        self._refresh_task = None
        self._changed = None        # asyncio.Event set (and replaced) on every state change
        self._closing = False
        self._stopped = False
        self._fatal = None
        self._auth_failure = None   # why the last refresh failed (reported on close 4001)
        self._handed = None         # the acked alert recv()/async for handed out last

    # ------------------------------------------------------------------ state
    @property
    def connected(self):
        """True while a connection is authenticated and its subscriptions restored."""
        c = self._conn
        return c is not None and c.ready and not c.dead

    @property
    def subscriptions(self):
        """What is restored after a reconnect: {(channel, device_id or None): filters}, the
        filters as normalized by the server."""
        return self._subs.snapshot()

    @property
    def last_alert_id(self):
        """The highest alert_id received (of a subscription with `ack`: handled, so that a
        resume replays the alerts received but not yet handled); before the first alert, the
        `last_alert_id` of the
        server's first alerts `subscribed` reply (where the subscription started); None before
        either. Resumes start there. Persist it and pass it as `since_alert_id` to resume
        across process restarts."""
        return self._alerts.last_alert_id

    @property
    def pending_messages(self):
        """Messages received and not yet consumed."""
        return len(self._inbox) if self._inbox is not None else 0

    def _notify(self):
        ev, self._changed = self._changed, asyncio.Event()
        ev.set()

    # ------------------------------------------------------------------ lifecycle
    async def connect(self):
        """Opens the connection and authenticates; returns the `auth_response`.

        Raises AuthenticationError when the token is refused (with the server's code), or the
        connection error (OSError, websockets' InvalidStatusCode/InvalidHandshake,
        TimeoutError): the first connection is not retried, so a wrong URL or token fails
        fast. Reconnecting applies to connections lost after this succeeded."""
        if self._supervisor is not None and not self._supervisor.done():
            raise ValtronicsError("already connected; call disconnect() first")
        self._closing = False
        self._stopped = False
        self._fatal = None
        self._auth_failure = None
        self._changed = asyncio.Event()
        self._inbox = Inbox(self.max_queue)
        token = self.token if self.token else await self._fetch_token()
        ws, auth = await self._open(token)
        conn = self._install(ws, auth, token)
        self.running = True
        self._supervisor = asyncio.create_task(self._supervise(conn))
        return auth

    async def disconnect(self):
        """Closes the connection (code 1000) and stops reconnecting. listen() returns and
        `async for` ends; messages not yet consumed are dropped; subscriptions are forgotten."""
        self.running = False
        if self._supervisor is None:
            return
        self._closing = True
        self._inbox.close(discard=True)
        if self._refresh_task is not None:
            self._refresh_task.cancel()
        conn = self._conn
        if conn is not None and not conn.dead:
            try:
                await conn.ws.close()
            except Exception:  # already closing or broken: the reader ends either way
                pass
        if not self._supervisor.done() and (conn is None or conn.dead):
            self._supervisor.cancel()  # it is between connections (backoff or handshake)
        if asyncio.current_task() is not self._supervisor:  # not from a connection-event hook
            try:
                await self._supervisor
            except asyncio.CancelledError:
                pass
        self._subs.clear()
        self._alerts.clear()

    async def __aenter__(self):
        await self.connect()
        return self

    async def __aexit__(self, *exc):
        await self.disconnect()

    # ------------------------------------------------------------------ requests
    async def authenticate(self, token=None):
        """Sends `auth` on the open connection (a token refresh: the server swaps the token,
        subscriptions stay); returns the `auth_response`. connect() authenticates by itself.

        Raises AuthenticationError when refused; the server then closes the connection (4001)
        and the client stops with that error instead of reconnecting."""
        token = token or self.token
        conn = await self._wait_ready(self._deadline())
        reply = await self._request(conn, {"type": "auth", "token": token}, "auth", None,
                                    self.request_timeout)
        if not reply.get("success"):
            err = AuthenticationError(reply.get("error"), reply.get("message"), reply)
            self._auth_failure = err
            raise err
        self.token = token
        self.auth = reply
        return reply

    async def subscribe(self, channel, filters=None, *, device_id=None):
        """Subscribes and waits for the server's `subscribed`; returns it (its `filters` are
        the normalized filters, `recovered` tells whether an alert replay was complete).

        filters: dict of the channel's filters (docs/protocol.md), e.g. {"device_id": 1,
        "metrics": ["temperature"]}; device_id= is a shortcut for filters["device_id"].
        Raises SubscriptionError with the server's code on an `error` reply. The subscription
        is remembered only once accepted, and restored after every reconnect.

        Naming several devices of which the token covers only some is granted in part (an
        extension, docs/protocol.md#extensions-of-the-spec): the reply's `filters.device_id`
        lists the devices subscribed, its `forbidden` the others, each of which is reported to
        handle_subscription_removed with reason "forbidden". Only when the token covers none of
        them is it a SubscriptionError (`forbidden`). The extension options (deadband,
        stale_after, aggregate, ...) pass through like any filter."""
        f = dict(filters or {})
        if device_id is not None:
            f["device_id"] = device_id
        msg = {"type": "subscribe", "channel": channel}
        if f:
            msg["filters"] = f
        refused = []

        def record(reply):
            refused[:] = self._subs.record_reply(channel, reply)

        reply = await self._call_with_retry(msg, record)
        for key in refused:
            await self._call_hook("handle_subscription_removed", key[0], key[1], "forbidden",
                                  _forbidden_error(reply, key))
        return reply

    async def unsubscribe(self, channel, device_id=None):
        """Removes the (channel, device) subscription, or every subscription of the channel
        without device_id; returns the `unsubscribed` reply (`removed`: how many)."""
        self._subs.remove(channel, device_id)
        msg = {"type": "unsubscribe", "channel": channel}
        if device_id is not None:
            msg["device_id"] = device_id
        return await self._call_with_retry(msg, None)

    async def ping(self, timestamp=None):
        """Sends `ping` and waits for its `pong`; returns the pong (`timestamp` echoed,
        `server_time`). Not retried on another connection: it measures this one."""
        conn = await self._wait_ready(self._deadline())
        msg = {"type": "ping", "timestamp": timestamp or _utc_now_iso()}
        return await self._request(conn, msg, "ping", None, self.request_timeout)

    async def send_message(self, message):
        """Sends a raw message as is (no `id` added, no reply awaited: replies to it arrive as
        ordinary messages)."""
        conn = self._conn
        if conn is None or conn.dead:
            raise NotConnectedError("not connected")
        try:
            await conn.ws.send(self._encode(message))
        except ConnectionClosed as e:
            raise ConnectionClosedError(e.rcvd.code if e.rcvd else 1006,
                                        e.rcvd.reason if e.rcvd else "") from e

    def _deadline(self):
        return asyncio.get_running_loop().time() + self.request_timeout

    def _check_usable(self):
        if self._supervisor is None:
            raise NotConnectedError("call connect() first")
        if self._closing:
            raise ClientClosedError("the client was disconnected")
        if self._fatal is not None:
            raise self._fatal
        if self._stopped:
            raise ClientClosedError("the client is stopped")

    async def _wait_ready(self, deadline):
        """The current connection once it is ready, waiting through a reconnect."""
        loop = asyncio.get_running_loop()
        while True:
            self._check_usable()
            conn = self._conn
            if conn is not None and conn.ready and not conn.dead:
                return conn
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise RequestTimeoutError("no connection within request_timeout")
            try:
                await asyncio.wait_for(self._changed.wait(), remaining)
            except asyncio.TimeoutError:
                raise RequestTimeoutError("no connection within request_timeout") from None

    async def _request(self, conn, message, request_type, on_reply, timeout):
        """Sends `message` with a fresh id on `conn` and returns the reply with that id."""
        rid, fut = self._pending.add(request_type, on_reply)
        try:
            await conn.ws.send(self._encode({**message, "id": rid}))
            return await asyncio.wait_for(fut, max(timeout, 0.001))
        except ConnectionClosed as e:
            self._mark_dead(conn)
            raise ConnectionClosedError(e.rcvd.code if e.rcvd else 1006,
                                        e.rcvd.reason if e.rcvd else "") from e
        except asyncio.TimeoutError:
            raise RequestTimeoutError(f"no reply to {request_type} within {timeout:.1f}s") \
                from None
        finally:
            self._pending.discard(rid)

    async def _call_with_retry(self, message, on_reply):
        """A subscribe/unsubscribe: waits for a ready connection; when that connection drops
        before the reply, sends it again on the next one (both are idempotent)."""
        deadline = self._deadline()
        loop = asyncio.get_running_loop()
        while True:
            conn = await self._wait_ready(deadline)
            try:
                return await self._request(conn, message, message["type"], on_reply,
                                           deadline - loop.time())
            except ConnectionClosedError:
                if not self.reconnect:
                    raise
                self._mark_dead(conn)
                if _cancel_requested():
                    raise asyncio.CancelledError()

    def _mark_dead(self, conn):
        if not conn.dead:
            conn.dead = True
            conn.ready = False
            self._notify()

    # ------------------------------------------------------------------ consuming
    async def listen(self):
        """Delivers every message to handle_message() (and so to the handle_* hooks), across
        reconnects, until disconnect() (then returns) or a fatal error (then raises it:
        AuthenticationError, ReconnectFailedError, or ConnectionClosedError when reconnect is
        off). As in the spec, a hook that sets `self.running = False` makes listen() return
        after that message (the connection stays open). Exceptions raised by hooks
        propagate."""
        while True:
            self._settle_handed()
            try:
                item = await self._next_item()
            except InboxClosed:
                return
            if isinstance(item, _AckedAlert):
                # Acknowledged once the hooks are done, also when they raise (the exception
                # propagates as always): a redelivery would be a duplicate the client drops,
                # so withholding the ack could not run the hook again, only make the server
                # re-send the alert every alerts.ack_timeout.
                try:
                    await self.handle_message(item.message)
                finally:
                    self._alert_handled(item)
            else:
                await self.handle_message(item)
            if not self.running and not self._stopped:
                return

    def __aiter__(self):
        return self

    async def __anext__(self):
        """`async for message in client`: the same messages listen() would hand to the hooks
        (hooks are not called); ends on disconnect(), raises fatal errors."""
        try:
            return await self._next()
        except InboxClosed:
            raise StopAsyncIteration from None

    async def recv(self, timeout=None):
        """The next message; raises ClientClosedError after disconnect(), TimeoutError after
        `timeout` seconds, fatal errors as listen() does."""
        try:
            if timeout is None:
                return await self._next()
            return await asyncio.wait_for(self._next(), timeout)
        except InboxClosed:
            raise ClientClosedError("the client was disconnected") from None

    async def _next(self):
        """The next message for `async for` and recv(). An acknowledged alert handed out by
        the previous call counts as handled now (the loop body that got it has run): it is
        acknowledged, and becomes the resume point."""
        self._settle_handed()
        item = await self._next_item()
        if isinstance(item, _AckedAlert):
            self._handed = item
            return item.message
        return item

    async def _next_item(self):
        if self._inbox is None:
            raise NotConnectedError("call connect() first")
        return await self._inbox.get()

    def _settle_handed(self):
        item, self._handed = self._handed, None
        if item is not None:
            self._alert_handled(item)

    # ------------------------------------------------------------------ acknowledged alerts
    def _alert_handled(self, item):
        """The application is done with an acknowledged alert: it becomes the resume point and
        its ack leaves (if the connection that sent it is still the current one)."""
        self._alerts.handled(item.message)
        item.conn.unhandled.discard(item.delivery_id)
        self._ack(item.conn, item.delivery_id)

    def _ack(self, conn, delivery_id):
        """Queues the ack of `delivery_id`, received on `conn`. Acks queued during one loop
        iteration (a burst of frames read together, a run of handled alerts) leave as one
        `ack` with a list, sent straight on the socket: they wait for no ready connection and
        fail no request. A connection that is gone drops them: its delivery ids mean nothing
        to the next one (which numbers its own from 1 again), whose replay sends the alerts
        again. A delivery id still unhandled (a redelivery crossing a slow consumer) waits for
        the application."""
        if conn is None or conn.dead or conn is not self._conn or delivery_id in conn.unhandled:
            return
        conn.acks.append(delivery_id)
        if conn.ack_task is None:
            conn.ack_task = asyncio.get_running_loop().create_task(self._send_acks(conn))

    async def _send_acks(self, conn):
        ids = list(dict.fromkeys(conn.acks))
        conn.acks = []
        conn.ack_task = None
        if not ids or conn.dead or conn is not self._conn:
            return
        frames, frame, size = [], [], 0
        overhead = len('{"type": "ack", "delivery_id": []}')
        for did in ids:
            n = len(str(did)) + (2 if frame else 0)  # ", " between ids
            if frame and (len(frame) >= MAX_ACK_IDS or overhead + size + n > MAX_MESSAGE_BYTES):
                frames.append(frame)
                frame, size = [], 0
                n = len(str(did))
            frame.append(did)
            size += n
        frames.append(frame)
        try:
            for frame in frames:
                await conn.ws.send(self._encode(
                    {"type": "ack", "delivery_id": frame[0] if len(frame) == 1 else frame}))
        except ConnectionClosed:
            pass  # the reader sees the close too; the next connection's replay re-sends
        except Exception:
            log.exception("sending an ack failed")

    # ------------------------------------------------------------------ hooks
    async def handle_message(self, data):
        """Dispatches a message to its hook by `type`. Override the specific hooks below (or
        assign functions to them); override this one to see every message."""
        handler = {
            "telemetry_update": self.handle_telemetry_update,
            "telemetry_stale": self.handle_telemetry_stale,
            "alert": self.handle_alert,
            "device_status_update": self.handle_device_status_update,
            "system_status_update": self.handle_system_status_update,
            "token_expiring": self.handle_token_expiring,
            "error": self.handle_error,
        }.get(data.get("type"), self.handle_other)
        await _maybe_await(handler(data))

    async def handle_telemetry_update(self, data):
        """A `telemetry_update` (device_id, telemetry: {metric: {value, unit, timestamp}})."""

    async def handle_telemetry_stale(self, data):
        """A `telemetry_stale` (an extension, for a subscription with `stale_after`): device_id
        (and `metric`, for a clock per metric) sent nothing for `stale_after`; `last_seen` is its
        last reading's timestamp, or None when it has not reported since the subscription."""

    async def handle_alert(self, data):
        """An `alert` (alert_id, device_id, severity, alert_type, title, message, status,
        metadata); a state change is the same alert_id with a new status."""

    async def handle_device_status_update(self, data):
        """A `device_status_update` (device_id, old_status, new_status, reason, metadata)."""

    async def handle_system_status_update(self, data):
        """A `system_status_update` (metrics: cpu_usage, memory_usage, ...)."""

    async def handle_token_expiring(self, data):
        """`token_expiring` (expires_at). With a token_provider the client has already started
        refreshing; without one the connection will close with 4003 at expiry."""

    async def handle_error(self, data):
        """An `error` that answers no request of this client: a subscription removed after a
        token refresh (`forbidden` with `channel` and `device_id`; handle_subscription_removed
        was called and the subscription is forgotten), `rate_limited` for a raw send_message,
        or a subscription the server refused to restore after a reconnect (then `request`
        holds the subscribe message and the subscription is forgotten; a device left out of a
        restore granted in part comes as a `forbidden` naming its `device_id`, with the
        `subscribed` `reply`)."""
        log.warning("server error: %s", data)

    async def handle_other(self, data):
        """Any other message: the `subscribed` a `/ws/<channel>` endpoint sends after auth,
        replies to raw send_message() requests, types this client does not know."""

    # Connection events. Called from the client's background task, whether or not listen()
    # runs; keep them short. Exceptions are logged and ignored.
    async def handle_disconnected(self, code, reason):
        """The connection closed (code 1006 when no close frame came)."""

    async def handle_reconnecting(self, attempt, delay, error):
        """Reconnect attempt `attempt` (from 1) starts after `delay` seconds; `error` is why the
        previous attempt failed (None for the first)."""

    async def handle_reconnected(self, auth_response):
        """A new connection is authenticated and every subscription restored."""

    async def handle_alert_resume(self, reply):
        """An alerts subscription was restored with `since_alert_id` (reply is its
        `subscribed`). reply["recovered"] is False when the server's history did not reach
        back far enough (alerts.replay_max_alerts / replay_max_age): some alerts raised while
        the client was away are lost; the newest were replayed."""
        if reply.get("recovered") is False:
            log.warning("alert resume incomplete: %s", reply)

    async def handle_subscription_removed(self, channel, device_id, reason, error):
        """The (channel, device_id) subscription left the registry without an unsubscribe
        (device_id None: the channel's every-device subscription, and `system`), so reconnects
        no longer restore it. reason "token_refresh": the server removed it because the
        refreshed token no longer covers it; "restore": the server refused it when it was
        restored after a reconnect (the whole subscribe, or this device alone in its reply's
        `forbidden`); "forbidden": a subscribe() naming several devices was granted in part
        (an extension of the spec) and the token does not cover this one. `error` is the
        server's `error` message, or for a device in a `forbidden` list an `error`-shaped dict
        naming it (with the `subscribed` as `reply`); for a restore it has the `request` and
        also reaches handle_error."""
        log.warning("subscription removed (%s): %s device %s: %s", reason, channel,
                    "*" if device_id is None else device_id, error.get("message"))

    async def handle_token_refreshed(self, auth_response):
        """The token_provider's token was accepted on the open connection after
        `token_expiring` (auth_response carries the new `expires_at`)."""

    async def handle_gap(self, channel, expected, received, data):
        """`seq` jumped from `expected` to `received` on `channel` without `conflated`: updates
        were lost (the server does not skip numbers otherwise)."""
        log.warning("seq gap on %s: expected %s, got %s", channel, expected, received)

    async def _call_hook(self, name, *args):
        try:
            await _maybe_await(getattr(self, name)(*args))
        except Exception:
            log.exception("%s raised", name)

    # ------------------------------------------------------------------ connections
    async def _fetch_token(self):
        if self.token_provider is None:
            if not self.token:
                raise TokenProviderError("no token")
            return self.token
        try:
            token = await _maybe_await(self.token_provider())
        except Exception as e:
            raise TokenProviderError(f"token_provider raised {e!r}") from e
        if not isinstance(token, str) or not token:
            raise TokenProviderError(f"token_provider returned {token!r}, not a token string")
        return token

    async def _open(self, token):
        """A new authenticated WebSocket: (socket, auth_response)."""
        # JSON asks for no subprotocol (a server without the extension answers too);
        # MessagePack for its own, which the server must name back (websockets checks it).
        ws = await websockets.connect(
            self.url, open_timeout=self.open_timeout, close_timeout=self.close_timeout,
            ping_interval=self.ping_interval, ping_timeout=self.ping_timeout,
            max_size=self.max_size, compression=None,
            subprotocols=["valtronics.msgpack"] if self._msgpack is not None else None)
        try:
            if self.coalesce:
                # Extension (docs/protocol.md, "Coalesced frames"): several messages may then
                # come as one JSON array frame. Its answer (or an older server's unknown_type)
                # comes before auth_response and is passed over below.
                await ws.send(self._encode({"type": "hello", "features": ["coalesce"],
                                            "id": self._pending.next_id()}))
            await ws.send(self._encode({"type": "auth", "token": token,
                                        "id": self._pending.next_id()}))
            # The server sends nothing before auth_response but hello's answer
            # (docs/protocol.md); what follows it in the same frame is kept for the reader.
            reply = None
            while reply is None:
                raw = await asyncio.wait_for(ws.recv(), self.open_timeout)
                parsed = self._decode(raw)
                if parsed is None:
                    continue
                items = parsed if isinstance(parsed, list) else [parsed]
                for i, item in enumerate(items):
                    if isinstance(item, dict) and item.get("type") == "auth_response":
                        reply = item
                        self._early = [m for m in items[i + 1:] if isinstance(m, dict)]
                        break
            if not reply.get("success"):
                raise AuthenticationError(reply.get("error"), reply.get("message"), reply)
            return ws, reply
        except ConnectionClosed as e:
            await ws.close()
            code = e.rcvd.code if e.rcvd else 1006
            reason = e.rcvd.reason if e.rcvd else ""
            if code == 4001:
                raise AuthenticationError("authentication_failed",
                                          reason or "closed with 4001") from e
            raise ConnectionClosedError(code, reason) from e
        except BaseException:
            try:
                await asyncio.wait_for(ws.close(), self.close_timeout)
            except BaseException:
                pass
            raise

    def _install(self, ws, auth, token):
        conn = _Connection(ws)
        self._conn = conn
        self.websocket = ws
        self.token = token
        self.auth = auth
        self._auth_failure = None
        self._seq.reset()  # seq restarts at 1 on every connection
        return conn

    async def _supervise(self, conn):
        error = None
        reconnected = False
        reader = None
        try:
            while True:
                reader = asyncio.create_task(self._read_loop(conn))
                if len(self._subs):
                    await self._resubscribe(conn)
                if not conn.dead and not reader.done():
                    conn.ready = True
                    self._notify()
                    if reconnected:
                        await self._call_hook("handle_reconnected", self.auth)
                code, reason = await reader
                self._mark_dead(conn)
                self.websocket = None
                self._pending.fail_all(lambda: ConnectionClosedError(code, reason))
                if self._closing:
                    return
                await self._call_hook("handle_disconnected", code, reason)
                if code == 4001:
                    raise self._auth_failure or AuthenticationError(
                        "authentication_failed", reason or "closed with 4001")
                if code in FATAL_CLOSE_CODES or not self.reconnect:
                    raise ConnectionClosedError(code, reason)
                conn = await self._reconnect(code, reason)
                reconnected = True
        except asyncio.CancelledError:
            pass  # disconnect() while between connections
        except Exception as e:  # fatal: ends listen() / async for with this error
            error = e
            log.debug("client stopped: %r", e)
        finally:
            self.running = False
            self.websocket = None
            if self._conn is not None:
                self._conn.dead = True
                self._conn.ready = False
            if not self._closing:
                self._fatal = error or ClientClosedError("the client stopped")
            self._stopped = True
            self._pending.fail_all(lambda: self._fatal or ClientClosedError("disconnected"))
            self._inbox.close(error, discard=self._closing)
            if self._refresh_task is not None:
                self._refresh_task.cancel()
            if reader is not None and not reader.done():
                reader.cancel()
            self._notify()

    async def _reconnect(self, code, reason):
        attempt = 0
        last_error = None
        while True:
            if _cancel_requested():
                raise asyncio.CancelledError()
            if self.max_reconnect_attempts is not None and attempt >= self.max_reconnect_attempts:
                raise ReconnectFailedError(attempt, last_error, code, reason)
            delay = self._backoff.delay(attempt)
            attempt += 1
            await self._call_hook("handle_reconnecting", attempt, delay, last_error)
            await asyncio.sleep(delay)
            try:
                # Before every attempt: the token may have expired while the client was away
                # (close 4003 is exactly that case).
                token = await self._fetch_token()
                ws, auth = await self._open(token)
                if _cancel_requested():
                    await ws.close()
                    raise asyncio.CancelledError()
            except AuthenticationError as e:
                # A refused token is refused again on the next attempt: stop. Only the
                # per-user connection limit can clear by itself.
                if e.code != "too_many_connections":
                    raise
                last_error = e
                continue
            except (TokenProviderError,) + RETRYABLE as e:
                last_error = e
                log.info("reconnect attempt %d failed: %r", attempt, e)
                continue
            return self._install(ws, auth, token)

    async def _resubscribe(self, conn):
        """Restores every subscription on a new connection, in batches; a subscription the
        server now refuses (e.g. `forbidden` for a new token) is forgotten and its error
        delivered to handle_error with the `request` that failed. A merged subscribe the new
        token covers only in part keeps the covered devices: the server names the others in
        the reply's `forbidden`, and only those are forgotten and reported."""
        last = self._alerts.last_alert_id if self.resume_alerts else None
        requests = self._subs.resubscribe_requests(last)
        waiting = []
        batch, size = [], 0
        try:
            for msg, keys in requests:
                def record(reply, channel=msg["channel"]):
                    self._subs.record_reply(channel, reply)
                rid, fut = self._pending.add("subscribe", record)
                item = {**msg, "id": rid}
                item_size = len(json.dumps(item)) + 2
                if batch and (len(batch) >= MAX_BATCH or size + item_size > MAX_BATCH_BYTES):
                    await conn.ws.send(self._encode({"type": "batch", "messages": batch}))
                    batch, size = [], 0
                batch.append(item)
                size += item_size
                waiting.append((rid, fut, msg, keys))
            if batch:
                await conn.ws.send(self._encode({"type": "batch", "messages": batch}))
        except ConnectionClosed:
            for rid, *_ in waiting:
                self._pending.discard(rid)
            return  # the reader ends too; the supervisor reconnects
        for rid, fut, msg, keys in waiting:
            try:
                reply = await asyncio.wait_for(fut, self.request_timeout)
                forbidden = reply.get("forbidden")
                if isinstance(forbidden, list):
                    # Granted in part: record_reply already dropped these keys.
                    for key in keys:
                        if key[1] is not None and key[1] in forbidden:
                            error = _forbidden_error(reply, key, msg)
                            await self._call_hook("handle_subscription_removed", key[0], key[1],
                                                  "restore", error)
                            await self._inbox.put(error)
                if "since_alert_id" in msg.get("filters", {}):
                    await self._call_hook("handle_alert_resume", reply)
            except SubscriptionError as e:
                error = {**e.reply, "request": msg}
                for key in keys:
                    self._subs.discard(key)
                    await self._call_hook("handle_subscription_removed", key[0], key[1],
                                          "restore", error)
                await self._inbox.put(error)
            except ConnectionClosedError:
                return
            except asyncio.TimeoutError:
                log.warning("no reply to re-subscribe %s", msg)
            finally:
                self._pending.discard(rid)

    async def _read_loop(self, conn):
        """Reads the connection until it closes; returns (close code, reason)."""
        ws = conn.ws
        early, self._early = self._early, []
        try:
            for msg in early:
                await self._on_message(msg)
            async for raw in ws:
                await self._on_frame(raw)
        except ConnectionClosed:
            pass
        except Exception:
            log.exception("reader failed; closing the connection")
            await ws.close(1011, "client error")
        code = ws.close_code if ws.close_code is not None else 1006
        return code, ws.close_reason or ""

    def _encode(self, message):
        """A message as this connection's encoding writes it: JSON text, or MessagePack."""
        if self._msgpack is not None:
            return self._msgpack.packb(message)
        return json.dumps(message)

    def _decode(self, raw):
        """A frame's message (or list of them when coalesced); None when it cannot be read."""
        if isinstance(raw, str):
            try:
                return json.loads(raw)
            except ValueError:
                log.warning("ignored a frame that is not JSON: %.100r", raw)
                return None
        if self._msgpack is None:
            log.warning("ignored a binary frame")
            return None
        try:
            return self._msgpack.unpackb(raw)
        except Exception:
            log.warning("ignored a frame that is not MessagePack: %.100r", raw)
            return None

    async def _on_frame(self, raw):
        parsed = self._decode(raw)
        if parsed is None:
            return
        # A coalesced frame (after hello) is a JSON array of messages, handled in order.
        for msg in parsed if isinstance(parsed, list) else [parsed]:
            if isinstance(msg, dict):
                await self._on_message(msg)

    async def _on_message(self, msg):
        if msg.get("type") == "subscribed" and msg.get("channel") == "alerts":
            # Replies and the one a /ws/alerts endpoint sends after auth: a resume point before
            # the first alert.
            self._alerts.start_at(msg)
        if "id" in msg and self._pending.resolve(msg):
            return
        mtype = msg.get("type")
        if mtype == "error":
            await self._on_removed_by_server(msg)
        elif mtype in UPDATE_CHANNELS:
            # An alert of a subscription with `ack` is acknowledged however it ends: a
            # duplicate (a redelivery is one: same alert_id and status, next seq) at once,
            # since the server re-sends it until acknowledged; one delivered once the
            # application has handled it (listen(), `async for`, recv(): see _next). The
            # reader runs for the current connection only (the next is installed after it ended).
            conn = self._conn
            did = _delivery_id(msg) if mtype == "alert" else None
            deliver, gap = self._seq.check(msg)
            if not deliver:
                self.duplicates_dropped += 1
                if did is not None:
                    self._ack(conn, did)
                return
            if gap is not None:
                channel = msg.get("channel") or UPDATE_CHANNELS[mtype]
                await self._call_hook("handle_gap", channel, gap[0], gap[1], msg)
            if mtype == "alert" and not self._alerts.accept(msg, resume=did is None):
                self.duplicates_dropped += 1
                if did is not None:
                    self._ack(conn, did)
                return
            if did is not None and conn is not None:
                conn.unhandled.add(did)
                await self._inbox.put(_AckedAlert(msg, conn, did))
                return
        elif mtype == "token_expiring":
            self._start_refresh()
        await self._inbox.put(msg)

    async def _on_removed_by_server(self, msg):
        """After a token refresh the server removes each subscription the new token no longer
        covers and names it in a `forbidden` without id (docs/protocol.md, "Token refresh";
        device_id None: the every-device subscription, and `system`). Exactly that key leaves
        the registry, so a reconnect does not ask for it again."""
        channel = msg.get("channel")
        if msg.get("id") is not None or msg.get("error") != "forbidden" \
                or not isinstance(channel, str):
            return
        device = msg.get("device_id")
        key = (channel, device if isinstance(device, int) else None)
        self._subs.discard(key)
        await self._call_hook("handle_subscription_removed", key[0], key[1], "token_refresh", msg)

    def _start_refresh(self):
        if self.token_provider is None:
            return
        if self._refresh_task is not None and not self._refresh_task.done():
            return
        self._refresh_task = asyncio.create_task(self._refresh())

    async def _refresh(self):
        try:
            token = await self._fetch_token()
            reply = await self.authenticate(token)
        except AuthenticationError as e:
            # The server closes with 4001; the supervisor stops the client with this error.
            log.error("token refresh refused: %s", e)
        except ValtronicsError as e:
            # Not fatal by itself: at expiry the server closes with 4003 and the reconnect
            # asks the provider again.
            log.warning("token refresh failed: %r", e)
        else:
            await self._call_hook("handle_token_refreshed", reply)
