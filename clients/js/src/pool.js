// WebSocketPool: the spec's pool of up to N connections with round-robin selection, made of
// authenticated ValtronicsWebSocket clients (the spec's pool hands out raw, unauthenticated
// sockets). Connections are opened lazily, as in the spec: the first N getConnection() calls
// each open one, later calls go round the open ones. A connection that is reconnecting is skipped
// while another one is open.
//
// Mind the server's limits: limits.connections_per_minute (10 new WebSockets per client address
// per minute by default) and limits.max_connections_per_user (100 per token `sub`).

import { ValtronicsWebSocket } from './client.js';

export class WebSocketPool {
  /**
   * new WebSocketPool(maxConnections, options) as in the spec, or new WebSocketPool(options).
   * options: url, token and/or getToken, monitor (a ConnectionMonitor to register every
   * connection with), and any ValtronicsWebSocket option (applied to every connection).
   */
  constructor(maxConnections = 5, options = {}) {
    if (typeof maxConnections === 'object' && maxConnections !== null) {
      options = maxConnections;
      maxConnections = options.maxConnections ?? 5;
    }
    if (!Number.isInteger(maxConnections) || maxConnections < 1) throw new RangeError('maxConnections must be a positive integer');
    const { url, token, monitor, maxConnections: _ignored, ...clientOptions } = options;
    if (!url) throw new TypeError('options.url is required');
    this.maxConnections = maxConnections;
    this.url = url;
    this.token = token;
    this.monitor = monitor ?? null;
    this.clientOptions = clientOptions;
    this.connections = [];
    this.currentIndex = 0;
    this._closed = false;
  }

  /** Number of connections (open or not). */
  get size() {
    return this.connections.length;
  }

  /**
   * Resolves with an authenticated ValtronicsWebSocket: a new one while fewer than
   * maxConnections exist, then the next open one in round-robin order.
   */
  async getConnection() {
    if (this._closed) throw new Error('the pool is closed');
    if (this.connections.length < this.maxConnections) {
      const client = new ValtronicsWebSocket(this.url, this.token, this.clientOptions);
      this.connections.push(client);
      const id = `pool-${this.connections.length}`;
      this.monitor?.addConnection(id, client);
      try {
        await client.connect();
      } catch (err) {
        // A connection that never authenticated leaves the pool, so a later call can try again.
        this.connections.splice(this.connections.indexOf(client), 1);
        this.monitor?.removeConnection(id);
        throw err;
      }
      return client;
    }
    const n = this.connections.length;
    for (let i = 0; i < n; i++) {
      const client = this.connections[this.currentIndex];
      this.currentIndex = (this.currentIndex + 1) % n;
      if (client.connected) return client;
    }
    // None is open right now: wait for the next one in turn.
    const client = this.connections[this.currentIndex];
    this.currentIndex = (this.currentIndex + 1) % n;
    await client.connect();
    return client;
  }

  /** Opens every connection up to maxConnections; resolves with all of them. */
  async connectAll() {
    const opening = [];
    // getConnection() adds its connection to the pool synchronously, before it authenticates.
    while (this.connections.length < this.maxConnections) opening.push(this.getConnection());
    await Promise.all(opening);
    return [...this.connections];
  }

  /** Sends a message on the next connection (round-robin); resolves with that connection. */
  async send(message) {
    const client = await this.getConnection();
    client.send(message);
    return client;
  }

  /** Sends a request on the next connection (round-robin); resolves with its reply. */
  async request(message, options) {
    const client = await this.getConnection();
    return client.request(message, options);
  }

  /** Disconnects every connection. */
  async disconnect() {
    this._closed = true;
    await Promise.all(this.connections.map((c) => c.disconnect()));
  }
}
