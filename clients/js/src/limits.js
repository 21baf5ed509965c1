// The server's limits that a client must respect (docs/protocol.md, docs/configuration.md). They
// are the server's defaults; a server configured otherwise can be matched with the options that
// take these as defaults (maxMessageBytes, maxBatchBytes).

/** limits.max_batch: messages per `batch`; the server refuses a larger batch whole. */
export const MAX_BATCH = 50;
/** limits.max_batch_bytes: size of a batch frame. */
export const MAX_BATCH_BYTES = 51_200;
/** limits.max_message_bytes: any other frame; larger ones close the connection with 1009. */
export const MAX_MESSAGE_BYTES = 1024;

/** Length in bytes of `s` encoded as UTF-8 (what the server measures), without allocating. */
export function utf8Length(s) {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      n += 4; // a surrogate pair is one 4-byte code point
      i++;
    } else n += 3;
  }
  return n;
}

const BATCH_OVERHEAD = utf8Length('{"type":"batch","messages":[]}');

/**
 * Splits already-serialized messages (JSON strings) into groups that each fit one batch frame:
 * at most `maxItems` messages and at most `maxBytes` bytes for the whole frame.
 * Throws RangeError for a message that cannot fit a batch even alone.
 */
export function chunkSerialized(texts, { maxItems = MAX_BATCH, maxBytes = MAX_BATCH_BYTES } = {}) {
  const chunks = [];
  let cur = [];
  let bytes = BATCH_OVERHEAD;
  for (const t of texts) {
    const len = utf8Length(t);
    if (BATCH_OVERHEAD + len > maxBytes) {
      throw new RangeError(`a message of ${len} bytes does not fit a batch frame of ${maxBytes} bytes`);
    }
    const extra = len + (cur.length ? 1 : 0); // the comma
    if (cur.length && (cur.length >= maxItems || bytes + extra > maxBytes)) {
      chunks.push(cur);
      cur = [];
      bytes = BATCH_OVERHEAD;
    }
    bytes += len + (cur.length ? 1 : 0);
    cur.push(t);
  }
  if (cur.length) chunks.push(cur);
  return chunks;
}

/** The batch frame for serialized messages (built by hand so nothing is serialized twice). */
export function batchFrame(texts) {
  return `{"type":"batch","messages":[${texts.join(',')}]}`;
}
