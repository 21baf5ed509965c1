// The REST API with the dashboard's token (Authorization: Bearer; never in a URL).

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export class Api {
  constructor(token, { onUnauthorized } = {}) {
    this.token = token;
    this.onUnauthorized = onUnauthorized ?? (() => {});
  }

  async request(method, path, body) {
    const headers = { Authorization: `Bearer ${this.token}` };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    let res;
    try {
      res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: 'no-store' });
    } catch (err) {
      throw new ApiError(0, 'NETWORK', `the server cannot be reached (${err.message})`);
    }
    let json = null;
    try {
      json = await res.json();
    } catch {
      // not JSON: the status says enough
    }
    if (!res.ok || json?.success === false) {
      const code = json?.error?.code ?? `HTTP_${res.status}`;
      const message = json?.error?.message ?? res.statusText;
      const err = new ApiError(res.status, code, message);
      if (res.status === 401) this.onUnauthorized(err);
      throw err;
    }
    return json;
  }

  get(path) { return this.request('GET', path); }
  post(path, body) { return this.request('POST', path, body); }

  /** Every device the token may read (pages of 100). */
  async devices() {
    const out = [];
    for (let page = 1; ; page++) {
      const r = await this.get(`/api/v1/devices?page=${page}&size=100`);
      out.push(...r.data);
      if (!r.pagination?.has_next) return out;
    }
  }

  /** The newest `count` alerts (the list is ordered by alert_id, oldest first). */
  async recentAlerts(count = 100) {
    const size = 100;
    const first = await this.get(`/api/v1/alerts?page=1&size=1`);
    const total = first.pagination?.total ?? 0;
    if (total === 0) return [];
    const lastPage = Math.ceil(total / size);
    const pages = [lastPage];
    if (lastPage > 1 && total % size !== 0 && total % size < count) pages.unshift(lastPage - 1);
    const out = [];
    for (const p of pages) out.push(...(await this.get(`/api/v1/alerts?page=${p}&size=${size}`)).data);
    return out.slice(-count);
  }

  async latest(deviceId) {
    return (await this.get(`/api/v1/devices/${deviceId}/telemetry/latest`)).data;
  }

  /** GET /api/v1/telemetry/history (docs/telemetry.md): { points: [{timestamp, value, count}] }. */
  async history({ deviceId, metric, start, end, interval, aggregation = 'avg' }) {
    const q = new URLSearchParams({
      device_id: String(deviceId), metric_name: metric, start: start.toISOString(), end: end.toISOString(),
      interval, aggregation,
    });
    return (await this.get(`/api/v1/telemetry/history?${q}`)).data;
  }

  acknowledge(alertId) { return this.post(`/api/v1/alerts/${alertId}/acknowledge`, {}); }
  resolve(alertId) { return this.post(`/api/v1/alerts/${alertId}/resolve`, {}); }
  stats() { return this.get('/api/v1/ws/stats'); }
}
