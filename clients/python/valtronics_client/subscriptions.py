"""What the client is subscribed to, so that a new connection can be given the same
subscriptions.

Subscriptions live with the connection on the server (docs/protocol.md): after a reconnect
nothing is subscribed until the client asks again. The registry mirrors the server's model
exactly, keyed by (channel, device id), with None for "every device", because that is what
`subscribe` replaces and `unsubscribe` removes; mirroring it means an unsubscribe of one
device of a multi-device subscription leaves the others to be restored.

Entries hold the *normalized* filters of the server's `subscribed` reply, not what the caller
passed: they are what the server actually applied, and sending them back yields the same
subscription (lists sorted, `device_id` a list, defaults such as `frequency` made explicit)."""

import json

ALERTS = "alerts"


class SubscriptionRegistry:
    def __init__(self):
        self._entries = {}  # (channel, device_id or None) -> filters without device_id

    def __len__(self):
        return len(self._entries)

    def snapshot(self):
        """A copy: {(channel, device_id or None): filters}."""
        return {k: dict(v) for k, v in self._entries.items()}

    def record(self, channel, filters):
        """Records a successful subscribe from the `filters` of its `subscribed` reply."""
        filters = dict(filters or {})
        devices = filters.pop("device_id", None)
        if devices is not None and not isinstance(devices, (list, tuple)):
            devices = [devices]  # the server sends a list; accept a single id all the same
        for device in (devices if devices else [None]):
            self._entries[(channel, device)] = dict(filters)

    def record_reply(self, channel, reply):
        """Records a `subscribed` reply and returns the keys it refused. A subscribe naming
        several devices of which the token covers only some is granted in part (an extension,
        docs/protocol.md#extensions-of-the-spec): `filters.device_id` lists those subscribed,
        `forbidden` the others. Those keys leave the registry (a reconnect must not ask for them
        again); a reply without `forbidden` refuses nothing."""
        self.record(channel, reply.get("filters"))
        forbidden = reply.get("forbidden")
        if not isinstance(forbidden, list):
            return []
        keys = [(channel, d) for d in forbidden]
        for k in keys:
            self._entries.pop(k, None)
        return keys

    def remove(self, channel, device_id=None):
        """Mirrors `unsubscribe`: without device_id every subscription of the channel goes."""
        if device_id is None:
            keys = [k for k in self._entries if k[0] == channel]
        else:
            ids = device_id if isinstance(device_id, (list, tuple)) else [device_id]
            keys = [(channel, d) for d in ids]
        for k in keys:
            self._entries.pop(k, None)

    def discard(self, key):
        """Removes one (channel, device_id or None) key, e.g. a subscription the server no
        longer accepts after a reconnect."""
        self._entries.pop(key, None)

    def clear(self):
        self._entries.clear()

    def resubscribe_requests(self, last_alert_id=None):
        """The `subscribe` messages (without `id`) that restore every subscription.

        Keys with identical filters on one channel are merged into one message with a
        `device_id` list: fewer messages, so a client with many subscriptions does not run
        into the server's per-connection message rate. A device the token no longer covers
        does not cost the others of its message: the server grants the covered ones and names
        the rest in the reply's `forbidden` (an extension of the spec); it refuses the message
        whole only when it covers none of them. Alert subscriptions get
        `since_alert_id` = the larger of the last alert id seen and the one the caller asked
        for (never going back before what the caller asked), so the alerts raised while the
        client was away are replayed and none it already has is sent again.

        Returns a list of (message, keys) pairs, keys being the registry keys it restores."""
        groups = {}
        for (channel, device), filters in self._entries.items():
            sig = (channel, device is None, json.dumps(filters, sort_keys=True))
            groups.setdefault(sig, (channel, filters, []))[2].append(device)
        out = []
        for (channel, every, _), (_, filters, devices) in sorted(groups.items(),
                                                                 key=lambda kv: kv[0]):
            f = dict(filters)
            if channel == ALERTS:
                since = [v for v in (f.get("since_alert_id"), last_alert_id) if v is not None]
                if since:
                    f["since_alert_id"] = max(since)
            if not every:
                f["device_id"] = sorted(devices)
            msg = {"type": "subscribe", "channel": channel}
            if f:
                msg["filters"] = f
            out.append((msg, [(channel, d) for d in devices]))
        return out
