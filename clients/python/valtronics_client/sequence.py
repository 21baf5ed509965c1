"""Per-channel `seq` bookkeeping: drop duplicates, notice gaps.

The server numbers every update message per connection and channel from 1, one by one
(docs/protocol.md, "`seq`: spotting loss"). Hence:

- a message whose seq is not above the last one seen on its channel is a duplicate and is
  dropped, so the application never handles the same update twice;
- the numbering restarts on every connection, so the tracker is reset whenever a new
  connection is authenticated: without that, every update after a reconnect would look like a
  duplicate of the previous connection's;
- a jump means updates were not delivered. A telemetry update carrying `conflated` stands for
  several merged ones (the client was reading too slowly), which explains its jump; any other
  jump is reported as a gap.

`telemetry_stale` (an extension: docs/protocol.md#extensions-of-the-spec) is numbered on the
telemetry channel like an update, so it is tracked here too: were it left out, the next
telemetry_update would look like a gap."""

UPDATE_CHANNELS = {
    "telemetry_update": "telemetry",
    "telemetry_stale": "telemetry",
    "alert": "alerts",
    "device_status_update": "devices",
    "system_status_update": "system",
}


class SeqTracker:
    def __init__(self):
        self._last = {}

    def reset(self):
        """Call when a new connection starts: its seq starts again from 1."""
        self._last.clear()

    def last(self, channel):
        return self._last.get(channel, 0)

    def check(self, message):
        """Returns (deliver, gap): deliver is False for a duplicate; gap is None or the
        (expected, received) pair of an unexplained jump. Messages without an integer seq are
        delivered and not tracked."""
        seq = message.get("seq")
        if not isinstance(seq, int) or isinstance(seq, bool):
            return True, None
        channel = message.get("channel") or UPDATE_CHANNELS.get(message.get("type"))
        last = self._last.get(channel, 0)
        if seq <= last:
            return False, None
        self._last[channel] = seq
        expected = last + 1
        if seq != expected and not message.get("conflated"):
            return True, (expected, seq)
        return True, None
