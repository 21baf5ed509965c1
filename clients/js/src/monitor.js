// ConnectionMonitor: the spec's connection statistics, fed by the events of ValtronicsWebSocket
// clients. The figures mean what the server's GET /api/v1/ws/stats means (docs/protocol.md), seen
// from this side, so the two can be compared:
//   totalConnections          authenticated sessions so far (each reconnect is a new session)
//   activeConnections         sessions open now
//   messagesSent / Received   frames written / JSON messages read (a batch is one frame)
//   averageConnectionDuration seconds, over closed and still open sessions
//   messagesPerConnection     (messagesReceived + messagesSent) / totalConnections
// plus what only a client sees: reconnects, gaps, duplicates, errors, last heartbeat latency.

export class ConnectionMonitor {
  constructor({ now = () => Date.now() } = {}) {
    this._now = now;
    this.connections = new Map(); // connectionId -> per-connection record
    this.stats = {
      totalConnections: 0,
      activeConnections: 0,
      messagesReceived: 0,
      messagesSent: 0,
      reconnects: 0,
      gaps: 0,
      duplicates: 0,
      errors: 0,
    };
    this._closedDurationMs = 0;
    this._closedSessions = 0;
  }

  /** Starts watching a ValtronicsWebSocket (the spec's addConnection(connectionId, ws)). */
  addConnection(connectionId, client) {
    if (!client || typeof client.on !== 'function') throw new TypeError('addConnection() takes a ValtronicsWebSocket');
    if (this.connections.has(connectionId)) throw new Error(`connection ${connectionId} is already monitored`);
    const rec = {
      client,
      connectedAt: null, // start of the current session (Date), null when not connected
      sessions: 0,
      messagesReceived: 0,
      messagesSent: 0,
      reconnects: 0,
      gaps: 0,
      duplicates: 0,
      errors: 0,
      latency: null,
      off: [],
    };
    const count = (field) => () => { rec[field]++; this.stats[field]++; };
    rec.off.push(
      client.on('message', count('messagesReceived')),
      client.on('sent', count('messagesSent')),
      client.on('reconnected', count('reconnects')),
      client.on('gap', count('gaps')),
      client.on('duplicate', count('duplicates')),
      client.on('error', count('errors'), { passive: true }),
      client.on('latency', (ms) => { rec.latency = ms; }),
      client.on('authenticated', () => this._start(rec)),
      client.on('disconnected', () => this._end(rec)),
      client.on('closed', () => this._end(rec)),
    );
    this.connections.set(connectionId, rec);
    if (client.connected) this._start(rec);
    return this;
  }

  /** Stops watching; an open session counts as ended now. */
  removeConnection(connectionId) {
    const rec = this.connections.get(connectionId);
    if (!rec) return false;
    this._end(rec);
    for (const off of rec.off) off();
    this.connections.delete(connectionId);
    return true;
  }

  _start(rec) {
    if (rec.connectedAt) return;
    rec.connectedAt = new Date(this._now());
    rec.sessions++;
    this.stats.totalConnections++;
    this.stats.activeConnections++;
  }

  _end(rec) {
    if (!rec.connectedAt) return;
    this._closedDurationMs += this._now() - rec.connectedAt.getTime();
    this._closedSessions++;
    rec.connectedAt = null;
    this.stats.activeConnections--;
  }

  /** Average session length in seconds, over closed and still open sessions. */
  calculateAverageDuration() {
    let ms = this._closedDurationMs;
    let n = this._closedSessions;
    const now = this._now();
    for (const rec of this.connections.values()) {
      if (rec.connectedAt) {
        ms += now - rec.connectedAt.getTime();
        n++;
      }
    }
    return n ? ms / n / 1000 : 0;
  }

  calculateMessagesPerConnection() {
    const { totalConnections, messagesReceived, messagesSent } = this.stats;
    return totalConnections ? (messagesReceived + messagesSent) / totalConnections : 0;
  }

  /** The spec's figures plus the client-side ones (a snapshot). */
  getStats() {
    return {
      ...this.stats,
      averageConnectionDuration: this.calculateAverageDuration(),
      messagesPerConnection: this.calculateMessagesPerConnection(),
    };
  }

  /** One connection's figures, or null. */
  getConnectionStats(connectionId) {
    const rec = this.connections.get(connectionId);
    if (!rec) return null;
    const { client, off, ...figures } = rec;
    return { ...figures, state: client.state };
  }
}
