// A tiny event emitter that runs the same in browsers and Node (no dependency on node:events and
// no EventTarget, whose Event objects would wrap every payload).
//
// Why not node:events? The SDK must load in a browser as a plain ES module, without a bundler.
// Two deliberate differences from Node's EventEmitter:
//   - emitting 'error' with no listener does not throw (a throw from inside a socket callback would
//     crash Node); the error is written to console.warn instead, so it is never silent;
//   - a listener that throws does not stop the other listeners nor the client: the exception is
//     re-emitted as 'error' (or, from an 'error' listener, written to console.error).

export class Emitter {
  #listeners = new Map(); // event -> array of { fn, once }

  /**
   * Adds `fn` for `event`; returns a function that removes it. A `passive` listener (one that
   * only observes, like ConnectionMonitor's) does not count as handling 'error': with only
   * passive ones, an error is still written to the console.
   */
  on(event, fn, { passive = false } = {}) {
    if (typeof fn !== 'function') throw new TypeError(`listener for '${event}' must be a function`);
    const list = this.#listeners.get(event);
    if (list) list.push({ fn, once: false, passive });
    else this.#listeners.set(event, [{ fn, once: false, passive }]);
    return () => this.off(event, fn);
  }

  /** Like on(), but `fn` runs at most once. */
  once(event, fn) {
    if (typeof fn !== 'function') throw new TypeError(`listener for '${event}' must be a function`);
    const list = this.#listeners.get(event);
    if (list) list.push({ fn, once: true });
    else this.#listeners.set(event, [{ fn, once: true }]);
    return () => this.off(event, fn);
  }

  /** Removes `fn` (the first registration of it); without `fn`, every listener of `event`. */
  off(event, fn) {
    const list = this.#listeners.get(event);
    if (!list) return this;
    if (fn === undefined) {
      this.#listeners.delete(event);
      return this;
    }
    const i = list.findIndex((l) => l.fn === fn);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) this.#listeners.delete(event);
    return this;
  }

  /** Removes every listener (of `event`, or of all events). */
  removeAllListeners(event) {
    if (event === undefined) this.#listeners.clear();
    else this.#listeners.delete(event);
    return this;
  }

  listenerCount(event) {
    return this.#listeners.get(event)?.length ?? 0;
  }

  /** Calls the listeners of `event` in registration order; returns whether there was any. */
  emit(event, ...args) {
    const list = this.#listeners.get(event);
    if (event === 'error' && !list?.some((l) => !l.passive)) {
      console.warn('[valtronics] unhandled error event:', args[0]);
    }
    if (!list || list.length === 0) return false;
    // A snapshot: listeners added or removed by a listener take effect from the next emit.
    for (const l of [...list]) {
      if (l.once) this.off(event, l.fn);
      try {
        l.fn.apply(this, args);
      } catch (err) {
        if (event === 'error') console.error('[valtronics] an error listener threw:', err);
        else this.emit('error', err);
      }
    }
    return true;
  }

  /**
   * Resolves with the first payload of `event` for which `filter(payload)` is true.
   * Options: timeout (ms, rejects with an Error whose code is 'timeout'), signal (AbortSignal).
   */
  waitFor(event, { timeout, filter, signal } = {}) {
    return new Promise((resolve, reject) => {
      let timer;
      const done = () => {
        this.off(event, listener);
        if (timer !== undefined) clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
      };
      const listener = (payload) => {
        if (filter && !filter(payload)) return;
        done();
        resolve(payload);
      };
      const onAbort = () => {
        done();
        reject(signal.reason ?? new Error('aborted'));
      };
      this.on(event, listener);
      if (timeout !== undefined && timeout !== Infinity) {
        timer = setTimeout(() => {
          done();
          const err = new Error(`no '${event}' event within ${timeout} ms`);
          err.code = 'timeout';
          reject(err);
        }, timeout);
      }
      if (signal) {
        if (signal.aborted) onAbort();
        else signal.addEventListener('abort', onAbort, { once: true });
      }
    });
  }
}
