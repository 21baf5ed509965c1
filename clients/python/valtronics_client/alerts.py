"""Alert resume: the last alert id seen, and a guard against delivering an alert event twice.

After a reconnect the client subscribes to alerts again with `since_alert_id` = the highest
`alert_id` it has received (see subscriptions.py), and the server replays every stored alert
above it before the live ones, without gap or duplicate. Before the first alert, the resume
point is the `last_alert_id` of the first alerts `subscribed` reply (one without a replay):
where the subscription started, so the alerts raised during a first outage are not lost.

The server sends an alert event at most once per connection, replays included (docs/protocol.md);
duplicates can still reach the client in two ways, which this guard removes:
- a caller-given `since_alert_id` lower than what was already received;
- a server older than that rule, which replays an alert matching two overlapping alert
  subscriptions (device 1, and severity critical, say) once per subscription.

An alert event is identified by (alert_id, status): a state change (acknowledged, resolved) is
the same alert_id with a new status, and statuses only move forward (docs/alerts.md), so the
pair never legitimately repeats. The memory is bounded (the server replays at most
`alerts.replay_max_alerts`, 10 000 by default), oldest pairs forgotten first."""

from collections import OrderedDict


class AlertTracker:
    def __init__(self, window=10000):
        self.window = window
        self.last_alert_id = None
        self._seen = OrderedDict()

    def accept(self, message, resume=True):
        """Records an `alert` message; returns False when it was already delivered. With
        resume False (an acknowledged alert, which becomes the resume point only once
        handled: see handled()), last_alert_id does not move yet."""
        alert_id = message.get("alert_id")
        if not isinstance(alert_id, int) or isinstance(alert_id, bool):
            return True
        key = (alert_id, message.get("status"))
        if key in self._seen:
            return False
        self._seen[key] = None
        if len(self._seen) > self.window:
            self._seen.popitem(last=False)
        if resume:
            self._advance(alert_id)
        return True

    def handled(self, message):
        """An acknowledged alert was handled by the application: the resume point moves past
        it. (Until then a reconnect resumes before it, so the replay sends it again; the
        client drops that copy as a duplicate and acknowledges it.)"""
        alert_id = message.get("alert_id")
        if isinstance(alert_id, int) and not isinstance(alert_id, bool):
            self._advance(alert_id)

    def _advance(self, alert_id):
        if self.last_alert_id is None or alert_id > self.last_alert_id:
            self.last_alert_id = alert_id

    def start_at(self, reply):
        """An alerts `subscribed` reply: with no alert received yet and no replay asked for,
        its `last_alert_id` (where the subscription starts) becomes the resume point. (After a
        replay the resume point comes from the replayed alerts: taking the reply's would skip
        those not yet received when the connection drops.)"""
        last = reply.get("last_alert_id")
        if (self.last_alert_id is None and isinstance(last, int) and not isinstance(last, bool)
                and "since_alert_id" not in (reply.get("filters") or {})):
            self.last_alert_id = last

    def clear(self):
        self.last_alert_id = None
        self._seen.clear()
