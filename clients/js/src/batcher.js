// MessageBatcher: the spec's batcher, on the server's `batch` message. Messages are collected and
// sent as one frame when batchSize are waiting or batchTimeout ms after the first one. A batch
// counts as ONE message for the server's rate limit (100 per second per connection), which is
// the point of batching; each message in it is still answered as if sent alone.
//
// The server refuses a batch of more than limits.max_batch (50) messages as a whole
// (batch_too_large) and closes the connection (1009) on a batch frame over
// limits.max_batch_bytes (50 KB): the batcher never builds either. A batchSize over 50 is a
// RangeError rather than silently lowered, so a caller who asked for 100 finds out.

import { ValtronicsWebSocket } from './client.js';
import { ValtronicsError } from './errors.js';
import { MAX_BATCH, MAX_BATCH_BYTES, batchFrame, utf8Length } from './limits.js';

const OVERHEAD = utf8Length(batchFrame([]));

export class MessageBatcher {
  /**
   * @param target a ValtronicsWebSocket (recommended: send() then returns the reply, and messages
   *               wait for the connection) or any object with send(string), e.g. a WebSocket
   * @param batchSize messages per batch, 1..50 (default 10, as in the spec)
   * @param batchTimeout ms to wait for more messages after the first (default 100)
   * @param options maxBatchBytes (default 51200, the server's limits.max_batch_bytes)
   */
  constructor(target, batchSize = 10, batchTimeout = 100, { maxBatchBytes = MAX_BATCH_BYTES } = {}) {
    if (!target || typeof target.send !== 'function') throw new TypeError('target must have a send() method');
    if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > MAX_BATCH) {
      throw new RangeError(`batchSize must be an integer from 1 to ${MAX_BATCH} (the server's limits.max_batch), got ${batchSize}`);
    }
    if (!(batchTimeout >= 0)) throw new RangeError('batchTimeout must be a number of ms >= 0');
    this.ws = target;
    this.batchSize = batchSize;
    this.batchTimeout = batchTimeout;
    this.maxBatchBytes = maxBatchBytes;
    this.messageQueue = [];   // { text, entry? }
    this.batchTimer = null;
    this._bytes = OVERHEAD;   // size of the frame the queue would make
    this.stats = { messages: 0, batches: 0 };
  }

  /** Messages waiting to be sent. */
  get size() {
    return this.messageQueue.length;
  }

  /**
   * Adds a message. With a ValtronicsWebSocket target, returns a promise of its reply (an `id` is
   * added when absent); with a plain socket, returns undefined. Batches are never nested: a
   * `batch` message is a TypeError.
   */
  send(message) {
    if (!message || typeof message !== 'object' || typeof message.type !== 'string') {
      throw new TypeError('a message is an object with a string type');
    }
    if (message.type === 'batch') throw new TypeError('batches cannot be nested (the server refuses nested_batch)');
    let entry = null;
    let text;
    if (this.ws instanceof ValtronicsWebSocket) {
      try {
        entry = this.ws._prepare(message, { batched: true });
      } catch (err) {
        return Promise.reject(err);
      }
      text = JSON.stringify(entry.msg);
    } else {
      text = JSON.stringify(message);
    }
    const len = utf8Length(text);
    if (OVERHEAD + len > this.maxBatchBytes) {
      const err = new ValtronicsError('message_too_large',
        `message_too_large: ${len} bytes does not fit a batch frame of ${this.maxBatchBytes} bytes`);
      if (entry) {
        this.ws._settle(entry, false, err);
        return entry.promise;
      }
      throw err;
    }
    // Flush first if this message would push the frame over the byte limit.
    const extra = len + (this.messageQueue.length ? 1 : 0);
    if (this.messageQueue.length && this._bytes + extra > this.maxBatchBytes) this.flushBatch();
    this._bytes += len + (this.messageQueue.length ? 1 : 0);
    this.messageQueue.push({ text, entry });
    if (this.messageQueue.length >= this.batchSize) {
      this.flushBatch();
    } else if (!this.batchTimer) {
      this.batchTimer = setTimeout(() => this.flushBatch(), this.batchTimeout);
    }
    return entry ? entry.promise : undefined;
  }

  /** Sends what is waiting now (the spec's name). */
  flushBatch() {
    if (this.batchTimer) {
      clearTimeout(this.batchTimer);
      this.batchTimer = null;
    }
    const items = this.messageQueue;
    if (items.length === 0) return;
    this.messageQueue = [];
    this._bytes = OVERHEAD;
    this.stats.messages += items.length;
    this.stats.batches += 1;
    if (items[0].entry) {
      // The client writes them as one batch frame when connected, or queues them meanwhile.
      this.ws._dispatch(items.map((i) => i.entry));
    } else {
      this.ws.send(batchFrame(items.map((i) => i.text)));
    }
  }

  /** Alias of flushBatch(). */
  flush() {
    this.flushBatch();
  }

  /** Sends what is waiting and stops the timer. */
  close() {
    this.flushBatch();
  }
}
