"""Alert resume: the last alert id seen, and a guard against delivering an alert event twice.

After a reconnect the client subscribes to alerts again with `since_alert_id` = the highest
`alert_id` it has received (see subscriptions.py), and the server replays every stored alert
above it before the live ones, without gap or duplicate *within one subscription*.

Duplicates can still reach the client in two ways, which this guard removes:
- two alert subscriptions whose filters overlap (device 1, and severity critical, say) each
  get their own replay, so an alert matching both is replayed twice;
- a caller-given `since_alert_id` lower than what was already received.

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

    def accept(self, message):
        """Records an `alert` message; returns False when it was already delivered."""
        alert_id = message.get("alert_id")
        if not isinstance(alert_id, int) or isinstance(alert_id, bool):
            return True
        key = (alert_id, message.get("status"))
        if key in self._seen:
            return False
        self._seen[key] = None
        if len(self._seen) > self.window:
            self._seen.popitem(last=False)
        if self.last_alert_id is None or alert_id > self.last_alert_id:
            self.last_alert_id = alert_id
        return True

    def clear(self):
        self.last_alert_id = None
        self._seen.clear()
