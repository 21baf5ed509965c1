// Type declarations of @valtronics/client. The messages follow docs/protocol.md of the Valtronics
// server; the classes follow src/*.js (documented in docs/clients/js.md).

// ------------------------------------------------------------------------------------ messages

export type Channel = 'telemetry' | 'alerts' | 'devices' | 'system';
export type Severity = 'info' | 'warning' | 'critical';
export type AlertType = 'threshold' | 'anomaly' | 'device' | 'system' | 'manual';
export type AlertStatus = 'active' | 'acknowledged' | 'resolved';
export type DeviceStatus = 'online' | 'offline' | 'warning' | 'error' | 'maintenance';
export type SystemMetric =
  | 'cpu_usage' | 'memory_usage' | 'disk_usage' | 'active_connections'
  | 'load_average_1m' | 'process_rss_mb' | 'uptime_seconds';
/** A request id: the server echoes it in every direct reply. */
export type MessageId = string | number;

/** A value for every metric, or per metric name with '*' standing for every other metric. */
export type PerMetric<T> = T | { [metric: string]: T };

/** Subscription filters (docs/protocol.md, "subscribe"); at the top level or under `filters`. */
export interface Filters {
  device_id?: number | number[];
  /** telemetry: only these metrics. system: these system metrics. */
  metrics?: string[];
  /** 'real-time' or an interval such as '500ms', '1s', '30s', '5m'. */
  frequency?: string;
  severity?: Severity | Severity[];
  alert_type?: AlertType | AlertType[];
  status_types?: DeviceStatus[];
  /** alerts: replay stored alerts with a greater id first. */
  since_alert_id?: number;
  /** telemetry (default false) / devices (default true): the current state first. */
  snapshot?: boolean;

  // Telemetry options that are extensions of the spec (docs/protocol.md#extensions-of-the-spec).
  /**
   * Real-time only: a metric goes out when its value moved by more than this since the last value
   * sent (a number >= 0, or per metric with '*' for every other metric).
   */
  deadband?: PerMetric<number>;
  /** As deadband, in percent of the last value sent; with both, the larger band applies. */
  deadband_pct?: PerMetric<number>;
  /** A duration ('100ms' to '7d'; needs a deadband): a held-back value goes out after this long anyway. */
  max_silence?: string;
  /** Real-time only: a metric goes out only with the reading crossing this level; the update carries `crossed`. */
  crossing?: PerMetric<number>;
  /** Which crossings (default 'both'); needs `crossing`. */
  direction?: 'up' | 'down' | 'both';
  /** A duration ('1s' to '7d'): one `telemetry_stale` when a device (or, with metrics, each metric) sends nothing this long. */
  stale_after?: string;
  /** Needs a `frequency`: each window sends, per metric, the aggregate of its readings instead of the latest value. */
  aggregate?: 'avg' | 'min' | 'max' | 'count';

  /**
   * Extension, alerts: at-least-once delivery (docs/protocol.md#acknowledged-alerts-ack). Each alert
   * carries a `delivery_id`, which the client acknowledges by itself after the handlers ran.
   */
  ack?: boolean;

  /** The same filters nested, as the spec's Python client sends them. */
  filters?: Omit<Filters, 'filters'>;
  [key: string]: unknown;
}

export interface AuthResponse {
  type: 'auth_response';
  success: boolean;
  message: string;
  user?: string;
  role?: 'admin' | 'operator' | 'analyst' | 'user' | 'device';
  expires_at?: string;
  error?: string;
  id?: MessageId;
}

export interface SubscribedMessage {
  type: 'subscribed';
  channel: Channel;
  /** Normalized: lists sorted, device_id always a list. */
  filters: Record<string, unknown>;
  /** Only for an alerts subscription with since_alert_id: false when history did not reach back far enough. */
  recovered?: boolean;
  /**
   * Alerts only: the newest stored alert id when the subscription started (0 when none). Before
   * any alert was seen, the client resumes from it after a reconnect.
   */
  last_alert_id?: number;
  /**
   * Extension: the devices asked for that the token does not cover; the others were subscribed
   * (`filters.device_id`). Present only when some were left out.
   */
  forbidden?: number[];
  id?: MessageId;
}

export interface UnsubscribedMessage {
  type: 'unsubscribed';
  channel: Channel;
  device_id?: number;
  removed: number;
  id?: MessageId;
}

export interface PongMessage {
  type: 'pong';
  timestamp: string | null;
  server_time: string;
  id?: MessageId;
}

export interface ErrorMessage {
  type: 'error';
  error: string;
  message: string;
  id?: MessageId;
  /**
   * A `forbidden` sent when a token refresh removed a subscription: which one (`device_id` null
   * for an every-device subscription).
   */
  channel?: Channel;
  device_id?: number | null;
}

export interface TokenExpiringMessage {
  type: 'token_expiring';
  expires_at: string;
}

export interface Reading {
  value: number;
  unit?: string;
  timestamp: string;
}

export interface TelemetryUpdate {
  type: 'telemetry_update';
  channel: 'telemetry';
  device_id: number;
  telemetry: Record<string, Reading>;
  seq: number;
  /** Present when this update stands for several merged ones (the client was behind). */
  conflated?: number;
  /** Extension, with `crossing`: which metrics crossed their level, and which way. */
  crossed?: Record<string, 'up' | 'down'>;
  /** Extension, with `aggregate`: the aggregate of this window's values, the window (the frequency), readings folded per metric. */
  aggregate?: 'avg' | 'min' | 'max' | 'count';
  window?: string;
  count?: Record<string, number>;
}

/**
 * Extension (`stale_after`): the device (or, with `metric`, that metric of it) sent nothing for
 * `stale_after`. Numbered by `seq` on the telemetry channel like an update.
 */
export interface TelemetryStale {
  type: 'telemetry_stale';
  channel: 'telemetry';
  device_id: number;
  /** Present only for a clock per metric (a subscription with `metrics`). */
  metric?: string;
  stale_after: string;
  /** The last reading's timestamp; null when the device has not reported since the subscription. */
  last_seen: string | null;
  timestamp: string;
  seq: number;
}

export interface AlertMessage {
  type: 'alert';
  channel: 'alerts';
  alert_id: number;
  device_id: number;
  severity: Severity;
  alert_type: AlertType;
  title: string;
  message: string;
  status: AlertStatus;
  timestamp: string;
  metadata: {
    threshold_value?: number;
    actual_value?: number;
    metric?: string;
    rule_id?: number;
    [key: string]: unknown;
  };
  /** Extension, a subscription with `ack: true`: this delivery's id on this connection (from 1); the client acknowledges it. */
  delivery_id?: number;
  /** Extension: sent again because not acknowledged within alerts.ack_timeout (same delivery_id, next seq). */
  redelivered?: boolean;
  seq: number;
}

export interface DeviceStatusUpdate {
  type: 'device_status_update';
  channel: 'devices';
  device_id: number;
  old_status: DeviceStatus;
  new_status: DeviceStatus;
  timestamp: string;
  reason: string;
  metadata: { last_seen?: string; [key: string]: unknown };
  seq: number;
}

export interface SystemStatusUpdate {
  type: 'system_status_update';
  channel: 'system';
  metrics: Partial<Record<SystemMetric, number>>;
  timestamp: string;
  seq: number;
}

export type UpdateMessage = TelemetryUpdate | TelemetryStale | AlertMessage | DeviceStatusUpdate | SystemStatusUpdate;
export type ServerMessage =
  | AuthResponse | SubscribedMessage | UnsubscribedMessage | PongMessage | ErrorMessage
  | TokenExpiringMessage | UpdateMessage;

/** A message the client sends (auth, subscribe, unsubscribe, ping, batch; `ack`, sent by the client itself). */
export interface ClientMessage {
  type: string;
  id?: MessageId;
  [key: string]: unknown;
}

// -------------------------------------------------------------------------------------- errors

/** The SDK's own error codes; the server's (docs/protocol.md, "Error codes") pass through. */
export type ClientErrorCode =
  | 'timeout' | 'connect_failed' | 'connection_closed' | 'reconnect_failed' | 'disconnected'
  | 'not_connected' | 'queue_full' | 'message_too_large' | 'token_not_refreshed'
  | 'heartbeat_timeout' | 'no_websocket' | 'invalid_reply';

export declare const CLIENT_ERROR_CODES: readonly ClientErrorCode[];
/** auth_response errors after which the client never reconnects. */
export declare const FATAL_AUTH_CODES: ReadonlySet<string>;

export declare class ValtronicsError extends Error {
  constructor(code: string, message: string, details?: Record<string, unknown>);
  readonly name: 'ValtronicsError';
  /** The server's error code (e.g. 'invalid_token', 'forbidden') or a ClientErrorCode. */
  code: ClientErrorCode | (string & {});
  /** The id of the request this error answers. */
  id?: MessageId;
  /** The server's message (error or auth_response) behind this error. */
  reply?: ErrorMessage | AuthResponse;
  /** The WebSocket close code, when the error comes from a close. */
  closeCode?: number;
  /**
   * For a subscription the server removed after a token refresh, or refused while re-subscribing:
   * which one (`device_id` null for an every-device subscription and for `system`).
   */
  channel?: Channel;
  device_id?: number | null;
}

// ------------------------------------------------------------------------------------- emitter

export declare class Emitter<Events extends Record<string, any> = Record<string, any>> {
  on<K extends keyof Events & string>(event: K, fn: (payload: Events[K]) => void, options?: { passive?: boolean }): () => void;
  once<K extends keyof Events & string>(event: K, fn: (payload: Events[K]) => void): () => void;
  off<K extends keyof Events & string>(event: K, fn?: (payload: Events[K]) => void): this;
  removeAllListeners(event?: keyof Events & string): this;
  listenerCount(event: keyof Events & string): number;
  emit<K extends keyof Events & string>(event: K, payload?: Events[K]): boolean;
  /** Resolves with the first payload of `event` that passes `filter`. */
  waitFor<K extends keyof Events & string>(
    event: K,
    options?: { timeout?: number; filter?: (payload: Events[K]) => boolean; signal?: AbortSignal },
  ): Promise<Events[K]>;
}

// -------------------------------------------------------------------------------------- client

export type ClientState = 'idle' | 'connecting' | 'open' | 'reconnecting' | 'closed';

export interface TokenContext {
  /** Why a token is needed: the first connect (without a token), a reconnect, token_expiring, or refreshToken(). */
  reason: 'connect' | 'reconnect' | 'token_expiring' | 'manual';
  /** Expiry of the current token (ISO-8601), when known. */
  expiresAt: string | null;
}

export interface BackoffOptions {
  /** ms; the first reconnect waits up to this (default 500). */
  base?: number;
  /** ms; the longest wait (default 30000). */
  cap?: number;
  /** Reconnect attempts before giving up with 'reconnect_failed' (default Infinity). */
  maxAttempts?: number;
}

export interface ClientOptions {
  /** Used when the token argument is omitted. */
  token?: string;
  /** Called for a fresh token before every reconnect and on token_expiring. */
  getToken?: (ctx: TokenContext) => string | Promise<string>;
  /** A WebSocket class (default: the browser's, or the `ws` package in Node). */
  WebSocket?: unknown;
  /** false: never reconnect. Default { base: 500, cap: 30000, maxAttempts: Infinity }. */
  reconnect?: false | BackoffOptions;
  /** Retry the very first connection like a reconnect (default false: connect() rejects). */
  retryOnFirstConnect?: boolean;
  /** ms for a reply to a request (default 10000). */
  requestTimeout?: number;
  /** ms from opening the socket to a successful auth_response (default 10000). */
  connectTimeout?: number;
  /** Application-level ping; false to disable. Default { interval: 30000, timeout: 10000 }. */
  heartbeat?: false | { interval?: number; timeout?: number };
  /** Messages kept while not connected (default 1000). */
  queueLimit?: number;
  /** Largest single frame (default 1024, the server's limits.max_message_bytes). */
  maxMessageBytes?: number;
  /** Largest batch frame (default 51200, the server's limits.max_batch_bytes). */
  maxBatchBytes?: number;
  /** Resume alerts subscriptions with since_alert_id after a reconnect (default true). */
  resumeAlerts?: boolean;
  /** Where alerts resume from (e.g. persisted from a previous page load). */
  lastAlertId?: number | null;
  /** Alerts remembered for de-duplication (default 10000). */
  dedupeWindow?: number;
  /** ms between two automatic refreshes at least (default 5000). */
  minRefreshInterval?: number;
  /** Node (`ws`) only: send the token as an Authorization: Bearer header instead of an auth message. */
  authHeader?: boolean;
  /**
   * Ask the server for coalesced frames (extension, docs/protocol.md): several messages in one
   * JSON array frame, each still delivered as its own message. Default true; a server without
   * the extension is used as before.
   */
  coalesce?: boolean;
  /**
   * 'json' (default, the spec's protocol) or 'msgpack' (extension, docs/protocol.md
   * "MessagePack"): the valtronics.msgpack subprotocol, every message both ways MessagePack in a
   * binary frame; the messages delivered are the same objects. Needs a codec: options.msgpack,
   * or the `@msgpack/msgpack` package, imported on first use.
   */
  encoding?: 'json' | 'msgpack';
  /** The MessagePack codec for encoding 'msgpack' (default: `@msgpack/msgpack`'s). */
  msgpack?: { encode(value: unknown): Uint8Array; decode(data: Uint8Array): unknown };
}

export interface SubscriptionInfo {
  channel: Channel;
  /** null: every device. */
  device_id: number | null;
  filters: Record<string, unknown>;
  /** false while the subscribe request awaits its reply. */
  confirmed: boolean;
}

export interface CloseInfo {
  code: number;
  reason: string;
  error: ValtronicsError | null;
  willReconnect: boolean;
}

export interface GapInfo {
  channel: Channel;
  expected: number;
  received: number;
  missed: number;
  /** The update's `conflated`, 0 when absent. */
  conflated: number;
  /** True when conflation accounts for the whole gap. */
  explained: boolean;
  message: UpdateMessage;
}

export interface DuplicateInfo {
  channel: Channel;
  /** 'seq': not newer than the last seq of its channel; 'alert': that alert was delivered at this or a later status. */
  reason: 'seq' | 'alert';
  seq?: number;
  lastSeq?: number;
  alertId?: number;
  status?: AlertStatus;
  message: UpdateMessage;
}

export interface RestoreResult {
  /**
   * (channel, device) keys re-sent (keys of a channel with identical filters go as one subscribe
   * with a device_id list).
   */
  subscriptions: number;
  /** Those the server refused (and that left the registry, unless the refusal was transient). */
  failed: ValtronicsError[];
}

export interface SubscriptionRemovedInfo {
  channel: Channel;
  /** null: the every-device subscription of the channel (and `system`). */
  device_id: number | null;
  /**
   * The filters the registry held for it ('forbidden': the filters asked for); null when it held
   * none (or only a pending subscribe).
   */
  filters: Record<string, unknown> | null;
  /**
   * 'token_refresh': the server removed it because the refreshed token no longer covers it;
   * 'restore': refused for good when re-sent after a reconnect (whole, or as one of the
   * `forbidden` devices of a merged subscribe);
   * 'forbidden': a subscribe naming several devices was granted in part and the token does not
   * cover this one (the reply's `forbidden`, an extension); the subscribe itself resolved.
   */
  reason: 'token_refresh' | 'restore' | 'forbidden';
  /** The `forbidden` (or other) error; also emitted as `error` except for reason 'forbidden'. */
  error: ValtronicsError;
}

export interface ClientEvents {
  stateChange: { from: ClientState; to: ClientState };
  connecting: { attempt: number; reason: 'connect' | 'reconnect' };
  open: { url: string };
  authenticated: AuthResponse;
  resubscribed: RestoreResult;
  reconnected: RestoreResult & { auth: AuthResponse };
  disconnected: CloseInfo;
  reconnecting: { attempt: number; delay: number; code: number; reason: string; error: ValtronicsError | null };
  closed: { error: ValtronicsError | null };
  error: ValtronicsError | Error;
  message: ServerMessage;
  sent: ClientMessage | string;
  telemetry_update: TelemetryUpdate;
  telemetry_stale: TelemetryStale;
  alert: AlertMessage;
  device_status_update: DeviceStatusUpdate;
  system_status_update: SystemStatusUpdate;
  subscribed: SubscribedMessage;
  unsubscribed: UnsubscribedMessage;
  pong: PongMessage;
  auth_response: AuthResponse;
  token_expiring: TokenExpiringMessage;
  /** The server's answer to the SDK's hello (coalesce option): the features it applies. */
  hello: { type: 'hello'; features: string[]; id?: string | number };
  tokenRefreshed: AuthResponse;
  subscriptionRemoved: SubscriptionRemovedInfo;
  recovery: { channel: 'alerts'; sinceAlertId: number | null; recovered: boolean; reply: SubscribedMessage };
  gap: GapInfo;
  duplicate: DuplicateInfo;
  latency: number;
}

export declare class ValtronicsWebSocket extends Emitter<ClientEvents> {
  constructor(url: string | URL, token: string, options?: ClientOptions);
  constructor(url: string | URL, options: ClientOptions);

  url: string;
  /** The token of the next auth (updated by getToken() and refreshToken()). */
  token: string | null;
  /** Round trip of the last heartbeat ping, ms. */
  latency: number | null;

  onTelemetryUpdate: ((data: TelemetryUpdate) => void) | null;
  /**
   * For an alert with a `delivery_id` (subscription with `ack: true`) the client sends its ack after
   * this returns, or after the promise it returns settles; a throw or rejection is emitted as 'error'
   * and the alert acknowledged all the same.
   */
  onAlert: ((data: AlertMessage) => void | Promise<unknown>) | null;
  onDeviceStatusUpdate: ((data: DeviceStatusUpdate) => void) | null;
  onSystemStatusUpdate: ((data: SystemStatusUpdate) => void) | null;
  /** Extension: a subscription with `stale_after` saw no data for that long. */
  onTelemetryStale: ((data: TelemetryStale) => void) | null;

  readonly state: ClientState;
  readonly connected: boolean;
  readonly auth: AuthResponse | null;
  lastAlertId: number | null;
  readonly reconnectAttempts: number;
  readonly queued: number;
  readonly subscriptions: SubscriptionInfo[];

  /** Resolves after a successful auth_response; rejects with the server's auth error or 'connect_failed'. */
  connect(): Promise<AuthResponse>;
  /** Resolves on `subscribed`; rejects with the server's error (matched by id). */
  subscribe(channel: Channel, filters?: Filters): Promise<SubscribedMessage>;
  /** Without deviceId: every subscription of the channel. */
  unsubscribe(channel: Channel, deviceId?: number): Promise<UnsubscribedMessage>;
  ping(timestamp?: string): Promise<PongMessage>;
  /** Sends any client message and resolves with its reply (an id is added when absent). */
  request<R extends ServerMessage = ServerMessage>(message: ClientMessage, options?: { timeout?: number }): Promise<R>;
  /** Fire and forget; queued while connecting. Returns true if written now. */
  send(message: ClientMessage | string): boolean;
  /** Sends auth again with `token` (or getToken()'s). */
  refreshToken(token?: string): Promise<AuthResponse | null>;
  /** Closes for good (no reconnect); resolves once the socket is closed. */
  disconnect(code?: number, reason?: string): Promise<void>;
}

export declare function normalizeFilters(filters?: Filters): { devices: number[] | null; filters: Record<string, unknown> };

// ------------------------------------------------------------------------------------- helpers

/** Anything with send(string), e.g. a WebSocket. */
export interface FrameSink {
  send(data: string): unknown;
}

export declare class MessageBatcher {
  /** batchSize 1..50 (RangeError otherwise). */
  constructor(target: ValtronicsWebSocket | FrameSink, batchSize?: number, batchTimeout?: number, options?: { maxBatchBytes?: number });
  readonly ws: ValtronicsWebSocket | FrameSink;
  readonly batchSize: number;
  readonly batchTimeout: number;
  readonly maxBatchBytes: number;
  readonly size: number;
  readonly stats: { messages: number; batches: number };
  /** With a ValtronicsWebSocket: the reply; with a plain socket: undefined. */
  send<R extends ServerMessage = ServerMessage>(message: ClientMessage): Promise<R> | undefined;
  flushBatch(): void;
  flush(): void;
  close(): void;
}

export interface PoolOptions extends ClientOptions {
  url: string;
  maxConnections?: number;
  monitor?: ConnectionMonitor;
}

export declare class WebSocketPool {
  constructor(maxConnections: number, options: PoolOptions);
  constructor(options: PoolOptions);
  readonly maxConnections: number;
  readonly connections: ValtronicsWebSocket[];
  readonly size: number;
  /** An authenticated connection: a new one while fewer than maxConnections exist, then round-robin. */
  getConnection(): Promise<ValtronicsWebSocket>;
  connectAll(): Promise<ValtronicsWebSocket[]>;
  send(message: ClientMessage | string): Promise<ValtronicsWebSocket>;
  request<R extends ServerMessage = ServerMessage>(message: ClientMessage, options?: { timeout?: number }): Promise<R>;
  disconnect(): Promise<void>;
}

export interface MonitorStats {
  totalConnections: number;
  activeConnections: number;
  messagesReceived: number;
  messagesSent: number;
  reconnects: number;
  gaps: number;
  duplicates: number;
  errors: number;
  /** Seconds. */
  averageConnectionDuration: number;
  messagesPerConnection: number;
}

export interface ConnectionStats {
  connectedAt: Date | null;
  sessions: number;
  messagesReceived: number;
  messagesSent: number;
  reconnects: number;
  gaps: number;
  duplicates: number;
  errors: number;
  latency: number | null;
  state: ClientState;
}

export declare class ConnectionMonitor {
  constructor(options?: { now?: () => number });
  readonly stats: Omit<MonitorStats, 'averageConnectionDuration' | 'messagesPerConnection'>;
  addConnection(connectionId: string, client: ValtronicsWebSocket): this;
  removeConnection(connectionId: string): boolean;
  getStats(): MonitorStats;
  getConnectionStats(connectionId: string): ConnectionStats | null;
  calculateAverageDuration(): number;
  calculateMessagesPerConnection(): number;
}

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface LogEntry {
  timestamp: string;
  level: 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';
  message: string;
  data: Record<string, unknown> | null;
}

export interface DebuggerOptions {
  logLevel?: LogLevel;
  /** Where lines go (default globalThis.console); false for nowhere. */
  console?: Pick<Console, LogLevel> | false;
  maxEntries?: number;
  /** Keep the (token-redacted) message in frame entries. */
  includePayload?: boolean;
  sink?: (entry: LogEntry) => void;
}

export declare class WebSocketDebugger {
  constructor(ws: ValtronicsWebSocket | null, options?: DebuggerOptions);
  enabled: boolean;
  logLevel: LogLevel;
  readonly entries: LogEntry[];
  log(level: LogLevel, message: string, data?: Record<string, unknown> | null): LogEntry | null;
  logMessage(direction: 'sent' | 'received', message: ClientMessage | ServerMessage | string): LogEntry | null;
  shouldLog(level: LogLevel): boolean;
  enable(): void;
  disable(): void;
  setLogLevel(level: LogLevel): void;
  getLog(options?: { level?: LogLevel }): LogEntry[];
  clear(): void;
  detach(): void;
}

// ------------------------------------------------------------------------------------ functions

export declare const DEFAULT_BACKOFF: Readonly<Required<BackoffOptions>>;
/** Full jitter: a random delay in [0, min(cap, base * 2^attempt)). */
export declare function backoffDelay(attempt: number, options?: BackoffOptions, random?: () => number): number;
export declare const MAX_BATCH: 50;
export declare const MAX_BATCH_BYTES: 51200;
export declare const MAX_MESSAGE_BYTES: 1024;
export declare function utf8Length(s: string): number;
