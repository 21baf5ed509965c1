"""Requests awaiting their reply, matched by `id`.

Every request the client sends carries an `id`, and the server echoes it in every direct reply
(docs/protocol.md, "Client messages"). Matching on it, rather than on "the next message of type
X", is what lets subscribe() return *its* `subscribed` while updates, replays and other replies
arrive in between, and what turns an `error` into an exception of the call that caused it.

Ids are integers counted per client, never reused across connections, so a late reply from a
previous connection cannot be taken for the reply of a request on the current one."""

import asyncio
import itertools

from .errors import RequestError, SubscriptionError

SUBSCRIPTION_TYPES = {"subscribe", "unsubscribe"}


class PendingRequests:
    def __init__(self):
        self._ids = itertools.count(1)
        self._waiting = {}  # id -> (future, request type, on_reply callback)

    def __len__(self):
        return len(self._waiting)

    def next_id(self):
        """A fresh id for a request whose reply is read directly (the first `auth`)."""
        return next(self._ids)

    def add(self, request_type, on_reply=None):
        """Registers a request; returns (id, future). on_reply(reply) runs synchronously when
        a successful reply is matched, before any other message is read, so that state
        derived from the reply (the subscription registry) is never a step behind it."""
        rid = next(self._ids)
        fut = asyncio.get_running_loop().create_future()
        self._waiting[rid] = (fut, request_type, on_reply)
        return rid, fut

    def discard(self, rid):
        self._waiting.pop(rid, None)

    def resolve(self, message):
        """Completes the request `message` replies to; returns False when none waits for it
        (not a reply, a reply to a request that timed out, or to a raw send_message)."""
        rid = message.get("id")
        if not isinstance(rid, int) or isinstance(rid, bool):
            return False
        entry = self._waiting.pop(rid, None)
        if entry is None:
            return False
        fut, request_type, on_reply = entry
        if fut.done():  # cancelled by a timeout between the reply's arrival and now
            return True
        if message.get("type") == "error":
            cls = SubscriptionError if request_type in SUBSCRIPTION_TYPES else RequestError
            fut.set_exception(cls(message.get("error"), message.get("message"), message))
        else:
            try:
                if on_reply is not None:
                    on_reply(message)
            except Exception as e:  # a malformed reply: fail this request, not the reader
                fut.set_exception(e)
            else:
                fut.set_result(message)
        return True

    def fail_all(self, exc_factory):
        """Fails every waiting request (the connection they were sent on is gone)."""
        waiting, self._waiting = self._waiting, {}
        for fut, _, _ in waiting.values():
            if not fut.done():
                fut.set_exception(exc_factory())
