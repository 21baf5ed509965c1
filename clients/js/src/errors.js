// Every failure the SDK reports is a ValtronicsError with a stable `code`: the server's error code
// (docs/protocol.md, "Error codes") when the server refused something, or one of the SDK's own
// codes below when the failure happened on this side.

/** The SDK's own codes (the server's are passed through unchanged). */
export const CLIENT_ERROR_CODES = Object.freeze([
  'timeout',             // no reply within requestTimeout / connectTimeout
  'connect_failed',      // the socket closed or failed before authentication
  'connection_closed',   // the connection closed and reconnecting is disabled
  'reconnect_failed',    // reconnect.maxAttempts reached
  'disconnected',        // disconnect() was called
  'not_connected',       // send()/subscribe() on a closed client
  'queue_full',          // more than queueLimit messages waiting for the connection
  'message_too_large',   // a frame over maxMessageBytes (the server would close with 1009)
  'token_not_refreshed', // getToken() returned no new token on token_expiring
  'heartbeat_timeout',   // no pong within heartbeat.timeout
  'no_websocket',        // no WebSocket implementation (Node without the `ws` package)
  'invalid_reply',       // the server sent something that is not a JSON object
]);

/**
 * Token errors in an auth_response: retrying with the same token cannot succeed, so the client
 * never reconnects after one of these (too_many_connections is a capacity problem, retried).
 */
export const FATAL_AUTH_CODES = new Set([
  'missing_token', 'invalid_token', 'token_expired', 'token_not_yet_valid',
]);

export class ValtronicsError extends Error {
  /**
   * @param {string} code    the server's error code or one of CLIENT_ERROR_CODES
   * @param {string} message human-readable
   * @param {object} [details] extra fields copied onto the error: id, reply (the server's message),
   *                           closeCode, channel, cause, ...
   */
  constructor(code, message, details = {}) {
    const { cause, ...rest } = details;
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'ValtronicsError';
    this.code = code;
    Object.assign(this, rest);
  }
}

/** The error for a server `error` message or failed `auth_response`. */
export function fromReply(reply) {
  const code = reply.error ?? 'unknown_error';
  const message = reply.message ? `${code}: ${reply.message}` : code;
  return new ValtronicsError(code, message, { id: reply.id, reply });
}
