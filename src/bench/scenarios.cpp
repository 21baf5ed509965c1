// The scenarios of `valtronics bench`: orchestration on the calling thread (start the fleets and
// the publisher on their threads, sample /proc, print progress), then the report.
#include <fmt/format.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <boost/asio/ip/address_v4.hpp>
#include <algorithm>
#include <boost/json/serialize.hpp>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "bench/scenarios.hpp"
#include "bench/clients.hpp"
#include "bench/floor.hpp"

namespace valtronics::bench {

namespace json = boost::json;
using boost::system::error_code;

namespace {

// ---- /proc sampling ----------------------------------------------------------------------------

struct ProcSample {
  double cpu_seconds = 0;
  std::uint64_t rss_kib = 0;
};

std::optional<ProcSample> sample_proc(std::optional<int> pid) {
  if (!pid) return std::nullopt;
  ProcSample s;
  std::ifstream stat("/proc/" + std::to_string(*pid) + "/stat");
  std::string line;
  if (!stat || !std::getline(stat, line)) return std::nullopt;
  // Field 2 (comm) may contain spaces and parentheses: the fields we want follow the last ')'.
  auto close = line.rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream rest(line.substr(close + 1));
  std::vector<std::string> fields;
  for (std::string f; rest >> f;) fields.push_back(f);
  // fields[0] is field 3 (state); utime is field 14 and stime field 15.
  if (fields.size() < 13) return std::nullopt;
  double ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
  s.cpu_seconds = (std::stod(fields[11]) + std::stod(fields[12])) / ticks;
  std::ifstream status("/proc/" + std::to_string(*pid) + "/status");
  while (std::getline(status, line))
    if (line.starts_with("VmRSS:")) s.rss_kib = std::stoull(line.substr(6));
  return s;
}

// ---- helpers -----------------------------------------------------------------------------------

double seconds(std::chrono::milliseconds d) { return std::chrono::duration<double>(d).count(); }
double since(SteadyTime t) { return std::chrono::duration<double>(SteadyClock::now() - t).count(); }
double between(SteadyTime a, SteadyTime b) { return std::chrono::duration<double>(b - a).count(); }

tcp::endpoint resolve(const Address& a) {
  asio::io_context ioc;
  tcp::resolver resolver(ioc);
  error_code ec;
  auto results = resolver.resolve(a.host, a.port, ec);
  if (ec || results.empty())
    throw std::runtime_error("cannot resolve " + a.host + ":" + a.port + ": " + ec.message());
  return results.begin()->endpoint();
}

// Client source addresses 127.0.0.2..127.0.0.50 for a server on 127.0.0.1 (round-robin), so that
// tens of thousands of connections, and TIME_WAIT entries, never exhaust one address's ports.
std::vector<tcp::endpoint> source_addresses(const tcp::endpoint& dest) {
  std::vector<tcp::endpoint> out;
  if (!dest.address().is_v4() || dest.address().to_v4().to_uint() != 0x7F000001u) return out;
  for (std::uint32_t i = 2; i <= 50; ++i)
    out.emplace_back(asio::ip::address_v4(0x7F000000u | i), 0);
  return out;
}

// Asks the kernel (EEVDF, Linux 6.12+) for a short time slice for the calling thread, so that it
// preempts a busy thread on the same CPU as soon as it wakes instead of waiting up to a full
// slice (~3 ms). Used by the publisher: its sends must be on time even when the subscriber thread
// saturates the CPU they share. Best effort: older kernels ignore or refuse it.
void request_short_slice() {
#ifdef SYS_sched_setattr
  struct {
    std::uint32_t size, sched_policy;
    std::uint64_t sched_flags;
    std::int32_t sched_nice;
    std::uint32_t sched_priority;
    std::uint64_t sched_runtime, sched_deadline, sched_period;
  } attr{};
  attr.size = sizeof attr;
  attr.sched_policy = 0;         // SCHED_OTHER
  attr.sched_runtime = 100'000;  // 100 µs slice
  (void)::syscall(SYS_sched_setattr, 0, &attr, 0);
#endif
}

json::object latency_json(const Histogram& h) {
  auto ms = [&](double p) { return static_cast<double>(h.percentile(p)) / 1000.0; };
  return json::object{{"count", h.count()},
                      {"min", static_cast<double>(h.min()) / 1000.0},
                      {"mean", h.mean() / 1000.0},
                      {"p50", ms(50)},
                      {"p90", ms(90)},
                      {"p99", ms(99)},
                      {"p99.9", ms(99.9)},
                      {"max", static_cast<double>(h.max()) / 1000.0}};
}

std::string latency_line(const Histogram& h) {
  auto ms = [&](double p) { return static_cast<double>(h.percentile(p)) / 1000.0; };
  return fmt::format("p50 {:.3f}  p90 {:.3f}  p99 {:.3f}  p99.9 {:.3f}  max {:.3f}  ({} samples)",
                     ms(50), ms(90), ms(99), ms(99.9), static_cast<double>(h.max()) / 1000.0,
                     h.count());
}

std::string row(std::string_view label, std::string_view text) {
  return fmt::format("  {:<22}{}\n", label, text);
}

std::string url_of(const Address& a, std::string_view scheme) {
  return fmt::format("{}://{}:{}{}", scheme, a.host, a.port, a.path == "/" ? "" : a.path);
}

json::object common_parameters(const Options& o) {
  json::object p{{"ws_url", url_of(o.ws, "ws")},
                 {"client_threads", o.client_threads},
                 {"server_pid", o.server_pid ? json::value(*o.server_pid) : json::value(nullptr)}};
  if (speaks_ours(o.target)) p["url"] = url_of(o.http, "http");
  if (!speaks_ours(o.target) || o.ingest_mqtt)
    p["publish_url"] = url_of(o.publish, o.target == Target::nats ? "nats" : "mqtt");
  if (o.ingest_mqtt) p["ingest"] = "mqtt";
  return p;
}

// ---- fleets over threads -----------------------------------------------------------------------

// The subscriber-side connections spread over --client-threads event loops.
class Fleets {
 public:
  // Held connections: connection i subscribes to device i % D + 1 on thread i % T.
  template <class F>
  auto sum(F f) const -> decltype(f(std::declval<const Fleet&>())) {
    decltype(f(std::declval<const Fleet&>())) total{};
    for (auto& x : fleets_) total += f(*x);
    return total;
  }

  // `slow` (if given): which connections are slow consumers.
  Fleets(const Options& o, int connections, const tcp::endpoint& ep, const BenchClock& clock,
         const std::vector<bool>& slow = {}) {
    int threads = std::max(1, std::min(o.client_threads, connections));
    std::vector<std::vector<int>> devices(threads);
    std::vector<std::vector<bool>> slows(threads);
    for (int i = 0; i < connections; ++i) {
      devices[i % threads].push_back(i % o.devices + 1);
      slows[i % threads].push_back(static_cast<std::size_t>(i) < slow.size() && slow[i]);
    }
    for (int t = 0; t < threads; ++t)
      fleets_.push_back(std::make_unique<Fleet>(o, Fleet::Mode::hold, ep, source_addresses(ep),
                                                clock, std::move(devices[t]), 0, SteadyTime{},
                                                std::move(slows[t])));
  }
  // Churned connections: `concurrency` in flight over the threads, until `until`.
  Fleets(const Options& o, const tcp::endpoint& ep, const BenchClock& clock, SteadyTime until) {
    int threads = std::max(1, std::min(o.client_threads, o.concurrency));
    for (int t = 0; t < threads; ++t) {
      int share = o.concurrency / threads + (t < o.concurrency % threads ? 1 : 0);
      auto sources = source_addresses(ep);
      // Each thread starts at a different source address.
      if (!sources.empty()) std::rotate(sources.begin(), sources.begin() + (t * 7) % sources.size(), sources.end());
      fleets_.push_back(std::make_unique<Fleet>(o, Fleet::Mode::churn, ep, std::move(sources),
                                                clock, std::vector<int>{}, share, until));
    }
  }
  ~Fleets() { stop(); }

  void start() {
    for (auto& f : fleets_) {
      f->start();
      threads_.emplace_back([f = f.get()] { f->run(); });
    }
  }
  void stop() {
    if (stopped_) return;
    stopped_ = true;
    for (auto& f : fleets_) f->shutdown();
    for (auto& t : threads_) t.join();
  }

  int ready() const { return sum([](const Fleet& f) { return f.ready(); }); }
  int failed() const { return sum([](const Fleet& f) { return f.failed(); }); }
  std::uint64_t received() const {
    return sum([](const Fleet& f) { return f.total_received(); });
  }
  std::uint64_t completed() const { return sum([](const Fleet& f) { return f.completed(); }); }
  std::string first_error() const {
    for (auto& f : fleets_)
      if (auto e = f->first_error(); !e.empty()) return e;
    return {};
  }
  void set_measure_from(std::int64_t us) {
    for (auto& f : fleets_) f->set_measure_from(us);
  }

  // After stop().
  Fleet::Totals totals() const {
    Fleet::Totals t;
    for (auto& f : fleets_) {
      const auto& x = f->totals();
      t.latency_us.merge(x.latency_us);
      t.setup_us.merge(x.setup_us);
      t.measured += x.measured;
      t.other += x.other;
      t.errors_after_ready += x.errors_after_ready;
      t.bytes += x.bytes;
      t.close_timeouts += x.close_timeouts;
      t.clean_closes += x.clean_closes;
      t.completed_in_window += x.completed_in_window;
      t.slow += x.slow;
      t.slow_disconnected += x.slow_disconnected;
      if (t.slow_disconnect_reason.empty()) t.slow_disconnect_reason = x.slow_disconnect_reason;
    }
    return t;
  }
  std::vector<Fleet::Held> per_connection() const {
    std::vector<Fleet::Held> out;
    for (auto& f : fleets_) {
      auto v = f->per_connection();
      out.insert(out.end(), v.begin(), v.end());
    }
    return out;
  }

  // Waits until every held connection is set up; throws (after stopping) when some cannot be.
  double wait_ready(int want, const Options& o, std::string_view label) {
    auto start = SteadyClock::now();
    auto deadline = start + std::chrono::seconds(30) + std::chrono::milliseconds(5) * want;
    while (ready() + failed() < want && SteadyClock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      if (o.progress) std::fprintf(stderr, "\r[%s] connecting %d/%d", label.data(), ready(), want);
    }
    if (o.progress) std::fprintf(stderr, "\r%60s\r", "");
    double took = since(start);
    int got = ready();
    if (got < want) {
      std::string why = first_error();
      int failed_n = failed();
      stop();
      throw std::runtime_error(fmt::format(
          "only {} of {} subscribers subscribed ({} failed{}){}", got, want, failed_n,
          failed_n + got < want ? ", the rest timed out" : "",
          why.empty() ? "" : "; first failure: " + why));
    }
    return took;
  }

 private:
  std::vector<std::unique_ptr<Fleet>> fleets_;
  std::vector<std::thread> threads_;
  bool stopped_ = false;
};

// Slow consumers of the fanout scenario: ceil(fraction * S) of the S subscribers, spread evenly
// over the devices (subscriber i has device i % D + 1): the j-th slow one has device j % D + 1,
// and those of one device are spread evenly over its subscribers.
std::vector<bool> pick_slow(int subscribers, int devices, double fraction) {
  std::vector<bool> slow(static_cast<std::size_t>(subscribers), false);
  // The epsilon keeps 0.01 * 1000 at 10 rather than 11 (binary fractions).
  auto n = static_cast<int>(std::ceil(fraction * subscribers - 1e-9));
  n = std::clamp(n, 0, subscribers);
  for (int j = 0; j < n; ++j) {
    int d = j % devices;                        // 0-based device
    int rank = j / devices;                     // among the slow ones of device d
    int of_device = (subscribers - d + devices - 1) / devices;  // subscribers of device d
    int slow_of_device = (n - d + devices - 1) / devices;        // slow ones of device d
    int k = static_cast<int>(static_cast<long long>(rank) * of_device / slow_of_device);
    slow[static_cast<std::size_t>(d + static_cast<long long>(k) * devices)] = true;
  }
  return slow;
}

// Loss accounting: each held connection that reads expects every accepted reading of its
// device (slow consumers are left out), delivered or covered by a conflated frame; its last
// update must carry the device's last accepted reading.
struct Deliveries {
  std::uint64_t expected = 0, received = 0, loss = 0, excess = 0, offered = 0;
  std::uint64_t conflated_frames = 0, conflated_updates = 0, final_value_mismatches = 0;
};
Deliveries account(const Fleets& fleets, const std::vector<std::uint64_t>& accepted,
                   const std::vector<std::uint64_t>* measured_sent, const LastAccepted& last) {
  Deliveries d;
  for (const auto& held : fleets.per_connection()) {
    if (held.slow) continue;
    std::uint64_t want = accepted[held.device];
    if (measured_sent) d.offered += (*measured_sent)[held.device];
    d.expected += want;
    d.received += held.received;
    d.conflated_frames += held.tally.conflated_frames;
    d.conflated_updates += held.tally.conflated_updates;
    auto t = tally_delivery(held.tally, want, last.of(held.device));
    d.loss += t.loss;
    d.excess += t.excess;
    if (t.final_mismatch) ++d.final_value_mismatches;
  }
  return d;
}

json::object server_json(int pid, const ProcSample& a, const ProcSample& b, double window,
                         std::uint64_t per_what, std::string_view per_key) {
  double cpu = b.cpu_seconds - a.cpu_seconds;
  json::object s{{"pid", pid},
                 {"cpu_s", cpu},
                 {"window_s", window},
                 {"cpu_percent", window > 0 ? 100 * cpu / window : 0.0},
                 {"rss_before_kib", a.rss_kib},
                 {"rss_kib", b.rss_kib}};
  if (!per_key.empty()) s[per_key] = per_what ? cpu * 1e6 / static_cast<double>(per_what) : 0.0;
  return s;
}

// ---- fanout ------------------------------------------------------------------------------------

// Where the publisher posts (our protocol): one reading alone, as one-reading devices do, or a
// batch.
std::string publish_path(const Options& o) {
  if (!speaks_ours(o.target)) return "";
  return o.batch == 1 ? "/api/v1/telemetry" : "/api/v1/telemetry/batch";
}

Report run_fanout(const Options& o) {
  if (o.subscribers < 1 || o.rate <= 0)
    throw std::invalid_argument("fanout: subscribers and rate must be positive");
  if (o.publish_pipeline < 1 || o.publish_pipeline > 1024)
    throw std::invalid_argument("fanout: --pipeline must be within 1..1024");
  if (!(o.slow_fraction >= 0 && o.slow_fraction <= 0.5))
    throw std::invalid_argument("fanout: --slow-fraction must be within 0..0.5");
  auto slow = pick_slow(o.subscribers, o.devices, o.slow_fraction);
  auto slow_n = static_cast<int>(std::count(slow.begin(), slow.end(), true));
  Report r;
  BenchClock clock;
  PayloadShape shape = make_shape(static_cast<std::size_t>(o.payload_bytes));
  tcp::endpoint ws_ep = resolve(o.ws);
  if (o.ingest_mqtt && o.target != Target::valtronics)
    throw std::invalid_argument("fanout: --ingest mqtt is for --target valtronics");
  tcp::endpoint pub_ep = resolve(speaks_ours(o.target) && !o.ingest_mqtt ? o.http : o.publish);

  Fleets fleets(o, o.subscribers, ws_ep, clock, slow);
  fleets.start();
  double setup_s = fleets.wait_ready(o.subscribers, o, "fanout");

  auto t0 = SteadyClock::now() + std::chrono::milliseconds(50);
  auto measure_from = t0 + o.warmup;
  auto end = measure_from + o.duration;
  fleets.set_measure_from(clock.us(measure_from));
  Publisher pub(o, Publisher::Mode::open_loop, pub_ep, clock, shape, t0, measure_from, end);
  try {
    pub.connect_all();
  } catch (const std::exception& e) {
    fleets.stop();
    throw std::runtime_error(std::string("publisher cannot connect: ") + e.what());
  }
  pub.start();
  std::thread pub_thread([&] {
    request_short_slice();
    pub.run();
  });

  std::this_thread::sleep_until(measure_from);
  auto window_start = SteadyClock::now();
  auto before = sample_proc(o.server_pid);
  std::uint64_t received_before = fleets.received();
  auto last = SteadyClock::now();
  std::uint64_t last_received = received_before;
  while (SteadyClock::now() < end) {
    std::this_thread::sleep_until(std::min(end, last + std::chrono::seconds(1)));
    auto now = SteadyClock::now();
    if (o.progress) {
      auto got = fleets.received();
      double dt = between(last, now);
      std::fprintf(stderr, "\r[fanout] %5.1fs  sent %llu readings  delivered %llu  (%.0f msg/s)   ",
                   between(t0, now), static_cast<unsigned long long>(pub.progress_sent()),
                   static_cast<unsigned long long>(got),
                   dt > 0 ? static_cast<double>(got - last_received) / dt : 0.0);
      last_received = got;
    }
    last = now;
  }
  std::uint64_t received_at_end = fleets.received();
  auto load_end = SteadyClock::now();
  auto at_end = sample_proc(o.server_pid);  // RSS at the end of the measured window
  pub_thread.join();
  if (o.progress) std::fprintf(stderr, "\r[fanout] draining %.1fs ...%40s", seconds(o.drain), "");
  std::this_thread::sleep_for(o.drain);
  auto window_end = SteadyClock::now();
  std::uint64_t received_after = fleets.received();
  auto after = sample_proc(o.server_pid);
  if (o.progress) std::fprintf(stderr, "\r%80s\r", "");
  fleets.stop();
  if (!pub.first_error.empty())
    std::fprintf(stderr, "valtronics bench: publisher: %s\n", pub.first_error.c_str());

  auto totals = fleets.totals();
  auto d = account(fleets, pub.accepted_per_device(), &pub.measured_sent_per_device(),
                   pub.last_accepted());
  if (totals.errors_after_ready)
    std::fprintf(stderr, "valtronics bench: %s\n", fleets.first_error().c_str());
  double offered_per_s = static_cast<double>(pub.measured_readings) / seconds(o.duration);
  double offered_deliveries_per_s = static_cast<double>(d.offered) / seconds(o.duration);
  double delivered_per_s = static_cast<double>(received_at_end - received_before) /
                           between(window_start, load_end);
  double update_bytes = d.received ? static_cast<double>(totals.bytes) / static_cast<double>(d.received) : 0;

  r.scenario = "fanout";
  r.target = o.target;
  r.parameters = common_parameters(o);
  r.parameters["subscribers"] = o.subscribers;
  r.parameters["devices"] = o.devices;
  r.parameters["rate"] = o.rate;
  r.parameters["slow_fraction"] = o.slow_fraction;
  r.parameters["batch"] = o.batch;
  r.parameters["connections"] = o.http_connections;
  r.parameters["pipeline"] = speaks_ours(o.target) ? o.publish_pipeline : 1;
  r.parameters["publish_path"] = publish_path(o);
  r.parameters["payload_bytes"] = o.payload_bytes;
  r.parameters["duration_s"] = seconds(o.duration);
  r.parameters["warmup_s"] = seconds(o.warmup);
  r.parameters["drain_s"] = seconds(o.drain);
  json::object& x = r.results;
  x["setup_s"] = setup_s;
  x["subscribers_ready"] = o.subscribers;
  // Slow consumers (never read once subscribed) are left out of loss, rates and latency.
  x["slow_subscribers"] = slow_n;
  x["slow_disconnected"] = totals.slow_disconnected;
  x["slow_disconnect_reason"] = totals.slow_disconnect_reason.empty()
                                    ? json::value(nullptr)
                                    : json::value(totals.slow_disconnect_reason);
  x["requests_sent"] = pub.requests_sent;
  x["requests_ok"] = pub.requests_ok;
  x["readings_sent"] = pub.readings_sent;
  x["readings_accepted"] = pub.readings_accepted;
  x["http_errors"] = pub.http_errors;
  x["transport_errors"] = pub.transport_errors();
  x["protocol_errors"] = pub.protocol_errors;
  x["publisher_synced"] = speaks_ours(o.target) ? true : pub.synced();
  x["late_sends"] = pub.late_sends;
  x["max_send_lag_ms"] = pub.max_lag_ms;
  x["offered_per_s"] = offered_per_s;
  x["offered_deliveries_per_s"] = offered_deliveries_per_s;
  x["expected"] = d.expected;
  x["received"] = d.received;
  // Frames carrying "conflated":n, and the n they stand for: covered, not lost.
  x["conflated_frames"] = d.conflated_frames;
  x["conflated_updates"] = d.conflated_updates;
  x["loss"] = d.loss;
  x["excess"] = d.excess;
  // Reading subscriber x device pairs whose last update is not the last accepted reading.
  x["final_value_mismatches"] = d.final_value_mismatches;
  x["other_messages"] = totals.other;
  x["subscriber_errors"] = totals.errors_after_ready;
  x["measured_deliveries"] = totals.measured;
  x["delivered_per_s"] = delivered_per_s;
  x["update_bytes"] = update_bytes;
  x["latency_ms"] = latency_json(totals.latency_us);
  // The latency is measured from the reading's scheduled send time: it is the update's age on
  // receipt (of a conflated frame: the age of the latest reading it carries).
  const auto& h = totals.latency_us;
  x["age_p50_ms"] = static_cast<double>(h.percentile(50)) / 1000.0;
  x["age_p90_ms"] = static_cast<double>(h.percentile(90)) / 1000.0;
  x["age_p99_ms"] = static_cast<double>(h.percentile(99)) / 1000.0;
  x["age_p999_ms"] = static_cast<double>(h.percentile(99.9)) / 1000.0;
  x["age_max_ms"] = static_cast<double>(h.max()) / 1000.0;
  x["server"] = nullptr;
  if (before && after) {
    auto s = server_json(*o.server_pid, *before, *after, between(window_start, window_end),
                         received_after - received_before, "cpu_us_per_delivery");
    s["deliveries"] = received_after - received_before;
    // RSS at the start and at the end of the measured window (before the drain).
    s["rss_start_bytes"] = before->rss_kib * 1024;
    s["rss_end_bytes"] = at_end ? json::value(at_end->rss_kib * 1024) : json::value(nullptr);
    x["server"] = std::move(s);
  }

  std::string& t = r.table;
  t += fmt::format("fanout [{}]: {} subscribers over {} devices, {} readings/s offered for {}s "
                   "(warmup {}s, batch {}, {} publisher connections{}, ~{} B updates)\n",
                   to_string(o.target), o.subscribers, o.devices, o.rate, seconds(o.duration),
                   seconds(o.warmup), o.batch, o.http_connections,
                   o.ingest_mqtt ? fmt::format(" to MQTT {} (one reading per message)",
                                               url_of(o.publish, "mqtt"))
                   : speaks_ours(o.target) && o.publish_pipeline > 1
                       ? fmt::format(" pipelining {}", o.publish_pipeline)
                       : "",
                   o.payload_bytes);
  t += row("setup", fmt::format("{:.2f} s for {} subscribers", setup_s, o.subscribers));
  if (o.slow_fraction > 0)
    t += row("slow consumers",
             fmt::format("{} of {} never read once subscribed (left out of the figures below); "
                         "{} disconnected by the server{}",
                         slow_n, o.subscribers, totals.slow_disconnected,
                         totals.slow_disconnect_reason.empty()
                             ? ""
                             : " (first: " + totals.slow_disconnect_reason + ")"));
  t += row("offered", fmt::format("{:.0f} readings/s = {:.0f} deliveries/s ({} sent, {} accepted)",
                                  offered_per_s, offered_deliveries_per_s, pub.readings_sent,
                                  pub.readings_accepted));
  t += row("publisher", fmt::format("{} HTTP errors, {} transport errors, {} late sends (max lag "
                                    "{:.2f} ms)",
                                    pub.http_errors, pub.transport_errors(), pub.late_sends,
                                    pub.max_lag_ms));
  t += row("delivered", fmt::format("{:.0f} msg/s received during the window by {} reading "
                                    "subscribers, {:.0f} B each",
                                    delivered_per_s, o.subscribers - slow_n, update_bytes));
  t += row("loss", fmt::format("{} (expected {}, received {}{}{})", d.loss, d.expected, d.received,
                               d.excess ? fmt::format(", {} unexpected", d.excess) : "",
                               totals.errors_after_ready
                                   ? fmt::format(", {} subscriber connections lost",
                                                 totals.errors_after_ready)
                                   : ""));
  t += row("conflated", fmt::format("{} frames standing for {} updates", d.conflated_frames,
                                    d.conflated_updates));
  t += row("final values", fmt::format("{} subscriber x device mismatches (last update received "
                                       "vs last reading accepted)",
                                       d.final_value_mismatches));
  t += row("age ms", latency_line(totals.latency_us));
  if (x["server"].is_object()) {
    const auto& s = x["server"].as_object();
    t += row(fmt::format("server pid {}", *o.server_pid),
             fmt::format("{:.2f} µs CPU per delivery ({:.1f}% of a core over {:.1f}s), RSS {:.1f} "
                         "MiB (was {:.1f} MiB)",
                         s.at("cpu_us_per_delivery").as_double(), s.at("cpu_percent").as_double(),
                         s.at("window_s").as_double(),
                         static_cast<double>(after->rss_kib) / 1024.0,
                         static_cast<double>(before->rss_kib) / 1024.0));
    if (at_end)
      t += row("server RSS", fmt::format("{:.2f} MiB at the start of the measured window, {:.2f} "
                                         "MiB at its end ({:+.2f} MiB)",
                                         static_cast<double>(before->rss_kib) / 1024.0,
                                         static_cast<double>(at_end->rss_kib) / 1024.0,
                                         (static_cast<double>(at_end->rss_kib) -
                                          static_cast<double>(before->rss_kib)) / 1024.0));
  }
  return r;
}

// ---- idle --------------------------------------------------------------------------------------

Report run_idle(const Options& o) {
  if (o.subscribers < 1) throw std::invalid_argument("idle: connections must be positive");
  Report r;
  BenchClock clock;
  tcp::endpoint ws_ep = resolve(o.ws);
  auto before = sample_proc(o.server_pid);
  if (o.server_pid && !before)
    throw std::runtime_error("cannot read /proc/" + std::to_string(*o.server_pid));
  Fleets fleets(o, o.subscribers, ws_ep, clock);
  fleets.start();
  double setup_s = fleets.wait_ready(o.subscribers, o, "idle");

  auto hold_start = SteadyClock::now();
  auto after = sample_proc(o.server_pid);
  auto hold_end = hold_start + o.duration;
  while (SteadyClock::now() < hold_end) {
    std::this_thread::sleep_until(std::min(hold_end, SteadyClock::now() + std::chrono::seconds(1)));
    if (o.progress)
      std::fprintf(stderr, "\r[idle] holding %d connections %5.1fs/%.0fs   ", fleets.ready(),
                   since(hold_start), seconds(o.duration));
  }
  auto end_sample = sample_proc(o.server_pid);
  double hold_s = since(hold_start);
  if (o.progress) std::fprintf(stderr, "\r%80s\r", "");
  std::uint64_t received = fleets.received();
  fleets.stop();
  auto totals = fleets.totals();
  if (totals.errors_after_ready)
    std::fprintf(stderr, "valtronics bench: %s\n", fleets.first_error().c_str());

  r.scenario = "idle";
  r.target = o.target;
  r.parameters = common_parameters(o);
  r.parameters["connections"] = o.subscribers;
  r.parameters["devices"] = o.devices;
  r.parameters["duration_s"] = seconds(o.duration);
  json::object& x = r.results;
  x["connections_ready"] = o.subscribers;
  x["setup_s"] = setup_s;
  x["setup_ms"] = latency_json(totals.setup_us);
  x["hold_s"] = hold_s;
  x["connections_lost"] = totals.errors_after_ready;
  x["messages_received"] = received + totals.other;
  x["server"] = nullptr;
  std::string server_line;
  if (before && after && end_sample) {
    double cpu = end_sample->cpu_seconds - after->cpu_seconds;
    auto grown = static_cast<double>(end_sample->rss_kib) - static_cast<double>(before->rss_kib);
    double per_conn = grown * 1024.0 / o.subscribers;
    x["server"] = json::object{{"pid", *o.server_pid},
                               {"rss_before_kib", before->rss_kib},
                               {"rss_connected_kib", after->rss_kib},
                               {"rss_kib", end_sample->rss_kib},
                               {"bytes_per_connection", per_conn},
                               {"idle_cpu_s", cpu},
                               {"idle_cpu_percent", hold_s > 0 ? 100 * cpu / hold_s : 0.0}};
    server_line = fmt::format("RSS {:.1f} MiB before, {:.1f} MiB connected, {:.1f} MiB after the "
                              "hold: {:.0f} B per connection; idle CPU {:.2f}% of a core",
                              static_cast<double>(before->rss_kib) / 1024.0,
                              static_cast<double>(after->rss_kib) / 1024.0,
                              static_cast<double>(end_sample->rss_kib) / 1024.0, per_conn,
                              hold_s > 0 ? 100 * cpu / hold_s : 0.0);
  }

  std::string& t = r.table;
  t += fmt::format("idle [{}]: {} connections over {} devices held for {}s\n", to_string(o.target),
                   o.subscribers, o.devices, seconds(o.duration));
  t += row("setup", fmt::format("{:.2f} s for {} connections ({:.0f}/s); set-up ms {}", setup_s,
                                o.subscribers, o.subscribers / std::max(setup_s, 1e-9),
                                latency_line(totals.setup_us)));
  t += row("held", fmt::format("{:.1f} s, {} connections lost, {} messages received", hold_s,
                               totals.errors_after_ready, received + totals.other));
  if (!server_line.empty()) t += row(fmt::format("server pid {}", *o.server_pid), server_line);
  return r;
}

// ---- connect -----------------------------------------------------------------------------------

Report run_connect(const Options& o) {
  if (o.concurrency < 1) throw std::invalid_argument("connect: concurrency must be positive");
  Report r;
  BenchClock clock;
  tcp::endpoint ws_ep = resolve(o.ws);
  auto start = SteadyClock::now();
  auto until = start + o.duration;
  auto before = sample_proc(o.server_pid);
  Fleets fleets(o, ws_ep, clock, until);
  fleets.start();
  auto last = start;
  std::uint64_t last_done = 0;
  while (SteadyClock::now() < until) {
    std::this_thread::sleep_until(std::min(until, last + std::chrono::seconds(1)));
    auto now = SteadyClock::now();
    if (o.progress) {
      auto done = fleets.completed();
      std::fprintf(stderr, "\r[connect] %5.1fs  %llu connections (%.0f/s), %d failed   ",
                   between(start, now), static_cast<unsigned long long>(done),
                   static_cast<double>(done - last_done) / std::max(between(last, now), 1e-9),
                   fleets.failed());
      last_done = done;
    }
    last = now;
  }
  auto after = sample_proc(o.server_pid);
  double window = since(start);
  if (o.progress) std::fprintf(stderr, "\r%80s\r", "");
  int failed = fleets.failed();
  std::string why = fleets.first_error();
  fleets.stop();
  auto totals = fleets.totals();
  if (failed && totals.completed_in_window == 0)
    throw std::runtime_error("connect: no connection was set up (" + std::to_string(failed) +
                             " failed); first: " + why);
  if (failed) std::fprintf(stderr, "valtronics bench: %d failed; first: %s\n", failed, why.c_str());
  double rate = static_cast<double>(totals.completed_in_window) / seconds(o.duration);

  r.scenario = "connect";
  r.target = o.target;
  r.parameters = common_parameters(o);
  r.parameters["concurrency"] = o.concurrency;
  r.parameters["pipeline"] = o.pipeline;
  r.parameters["devices"] = o.devices;
  r.parameters["duration_s"] = seconds(o.duration);
  r.parameters["source_addresses"] = static_cast<std::uint64_t>(source_addresses(ws_ep).size());
  json::object& x = r.results;
  x["connections"] = totals.completed_in_window;
  x["connections_per_s"] = rate;
  x["failed"] = failed;
  x["first_failure"] = why.empty() ? json::value(nullptr) : json::value(why);
  x["clean_closes"] = totals.clean_closes;
  x["close_timeouts"] = totals.close_timeouts;
  x["setup_ms"] = latency_json(totals.setup_us);
  x["server"] = nullptr;
  if (before && after)
    x["server"] = server_json(*o.server_pid, *before, *after, window, totals.completed_in_window,
                              "cpu_us_per_connection");

  std::string& t = r.table;
  t += fmt::format("connect [{}]: {} in flight for {}s (handshake, auth, subscribe acknowledged, "
                   "close{})\n",
                   to_string(o.target), o.concurrency, seconds(o.duration),
                   o.pipeline ? "; auth and subscribe pipelined" : "");
  t += row("connections", fmt::format("{} set up = {:.0f}/s; {} failed, {} closed by the server, "
                                      "{} close timeouts",
                                      totals.completed_in_window, rate, failed,
                                      totals.clean_closes, totals.close_timeouts));
  t += row("set-up ms", latency_line(totals.setup_us));
  if (x["server"].is_object()) {
    const auto& s = x["server"].as_object();
    t += row(fmt::format("server pid {}", *o.server_pid),
             fmt::format("{:.1f} µs CPU per connection ({:.1f}% of a core)",
                         s.at("cpu_us_per_connection").as_double(),
                         s.at("cpu_percent").as_double()));
  }
  return r;
}

// ---- ingest ------------------------------------------------------------------------------------

Report run_ingest(const Options& o) {
  if (!speaks_ours(o.target))
    throw std::invalid_argument("ingest: only --target valtronics or node (HTTP ingest)");
  if (o.subscribers < 0) throw std::invalid_argument("ingest: subscribers must not be negative");
  Report r;
  BenchClock clock;
  PayloadShape shape = make_shape(static_cast<std::size_t>(o.payload_bytes));
  tcp::endpoint http_ep = resolve(o.http);
  std::optional<Fleets> fleets;
  double setup_s = 0;
  if (o.subscribers > 0) {
    fleets.emplace(o, o.subscribers, resolve(o.ws), clock);
    fleets->start();
    setup_s = fleets->wait_ready(o.subscribers, o, "ingest");
  }

  auto t0 = SteadyClock::now() + std::chrono::milliseconds(50);
  auto measure_from = t0 + o.warmup;
  auto end = measure_from + o.duration;
  if (fleets) fleets->set_measure_from(clock.us(measure_from));
  Publisher pub(o, Publisher::Mode::closed_loop, http_ep, clock, shape, t0, measure_from, end);
  try {
    pub.connect_all();
  } catch (const std::exception& e) {
    if (fleets) fleets->stop();
    throw std::runtime_error(std::string("ingest cannot connect: ") + e.what());
  }
  std::this_thread::sleep_until(t0);
  pub.start();
  std::thread pub_thread([&] { pub.run(); });

  std::this_thread::sleep_until(measure_from);
  auto window_start = SteadyClock::now();
  auto before = sample_proc(o.server_pid);
  std::uint64_t accepted_before = pub.progress_accepted();
  std::uint64_t received_before = fleets ? fleets->received() : 0;
  auto last = window_start;
  while (SteadyClock::now() < end) {
    std::this_thread::sleep_until(std::min(end, last + std::chrono::seconds(1)));
    auto now = SteadyClock::now();
    if (o.progress)
      std::fprintf(stderr, "\r[ingest] %5.1fs  accepted %llu readings  delivered %llu   ",
                   between(t0, now), static_cast<unsigned long long>(pub.progress_accepted()),
                   static_cast<unsigned long long>(fleets ? fleets->received() : 0));
    last = now;
  }
  std::uint64_t accepted_at_end = pub.progress_accepted();
  std::uint64_t received_at_end = fleets ? fleets->received() : 0;
  auto load_end = SteadyClock::now();
  auto after = sample_proc(o.server_pid);
  pub_thread.join();
  if (fleets) {
    if (o.progress) std::fprintf(stderr, "\r[ingest] draining %.1fs ...%40s", seconds(o.drain), "");
    std::this_thread::sleep_for(o.drain);
  }
  if (o.progress) std::fprintf(stderr, "\r%80s\r", "");
  if (fleets) fleets->stop();
  if (!pub.first_error.empty())
    std::fprintf(stderr, "valtronics bench: ingest: %s\n", pub.first_error.c_str());
  double window = between(window_start, load_end);
  double accepted_per_s = static_cast<double>(accepted_at_end - accepted_before) / window;

  r.scenario = "ingest";
  r.target = o.target;
  r.parameters = common_parameters(o);
  r.parameters["batch"] = o.batch;
  r.parameters["connections"] = o.http_connections;
  r.parameters["subscribers"] = o.subscribers;
  r.parameters["devices"] = o.devices;
  r.parameters["payload_bytes"] = o.payload_bytes;
  r.parameters["duration_s"] = seconds(o.duration);
  r.parameters["warmup_s"] = seconds(o.warmup);
  r.parameters["drain_s"] = seconds(o.drain);
  json::object& x = r.results;
  x["requests_sent"] = pub.requests_sent;
  x["requests_ok"] = pub.requests_ok;
  x["readings_sent"] = pub.readings_sent;
  x["readings_accepted"] = pub.readings_accepted;
  x["http_errors"] = pub.http_errors;
  x["transport_errors"] = pub.transport_errors();
  x["accepted_per_s"] = accepted_per_s;
  x["request_ms"] = latency_json(pub.request_latency_us);
  x["delivery"] = nullptr;
  std::string delivery_lines;
  if (fleets) {
    auto totals = fleets->totals();
    auto d = account(*fleets, pub.accepted_per_device(), nullptr, pub.last_accepted());
    double delivered_per_s = static_cast<double>(received_at_end - received_before) / window;
    x["delivery"] = json::object{{"setup_s", setup_s},
                                 {"expected", d.expected},
                                 {"received", d.received},
                                 {"loss", d.loss},
                                 {"excess", d.excess},
                                 {"other_messages", totals.other},
                                 {"subscriber_errors", totals.errors_after_ready},
                                 {"delivered_per_s", delivered_per_s},
                                 {"latency_ms", latency_json(totals.latency_us)}};
    delivery_lines += row("delivered", fmt::format("{:.0f} msg/s to {} subscribers", delivered_per_s,
                                                   o.subscribers));
    delivery_lines += row("loss", fmt::format("{} (expected {}, received {}{})", d.loss, d.expected,
                                              d.received,
                                              d.excess ? fmt::format(", {} unexpected", d.excess)
                                                       : ""));
    delivery_lines += row("latency ms", latency_line(totals.latency_us));
  }
  x["server"] = nullptr;
  if (before && after)
    x["server"] = server_json(*o.server_pid, *before, *after, window,
                              accepted_at_end - accepted_before, "cpu_us_per_reading");

  std::string& t = r.table;
  t += fmt::format("ingest [{}]: batches of {} over {} HTTP connections, closed loop for {}s "
                   "(warmup {}s), {} subscribers over {} devices\n",
                   to_string(o.target), o.batch, o.http_connections, seconds(o.duration),
                   seconds(o.warmup), o.subscribers, o.devices);
  t += row("accepted", fmt::format("{:.0f} readings/s ({} requests, {} readings accepted; {} HTTP "
                                   "errors, {} transport errors)",
                                   accepted_per_s, pub.requests_ok, pub.readings_accepted,
                                   pub.http_errors, pub.transport_errors()));
  t += row("request ms", latency_line(pub.request_latency_us));
  t += delivery_lines;
  if (x["server"].is_object()) {
    const auto& s = x["server"].as_object();
    t += row(fmt::format("server pid {}", *o.server_pid),
             fmt::format("{:.2f} µs CPU per reading ({:.1f}% of a core)",
                         s.at("cpu_us_per_reading").as_double(), s.at("cpu_percent").as_double()));
  }
  return r;
}

}  // namespace

std::uint64_t raise_fd_limit() {
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) != 0) return 1024;
  if (rl.rlim_cur < rl.rlim_max) {
    rlimit want = rl;
    want.rlim_cur = rl.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &want) == 0) rl = want;
  }
  return rl.rlim_cur;
}

Report run(const Options& o) {
  if (o.scenario == "floor") return run_floor(o);  // no server, no token: checks of its own
  if (o.devices < 1 || o.batch < 1 || o.http_connections < 1 || o.duration.count() <= 0 ||
      o.client_threads < 1 || o.payload_bytes < 0)
    throw std::invalid_argument("devices, batch, connections, client threads and duration must "
                                "be positive");
  // One descriptor per connection, plus the publisher's and a margin.
  std::uint64_t limit = raise_fd_limit();
  std::uint64_t need = 64 + static_cast<std::uint64_t>(o.http_connections);
  if (o.scenario == "connect") need += static_cast<std::uint64_t>(o.concurrency);
  else need += static_cast<std::uint64_t>(std::max(0, o.subscribers));
  if (need > limit)
    throw std::invalid_argument(fmt::format(
        "{} connections need about {} open files; this process may open {} (ulimit -n)",
        o.scenario == "connect" ? o.concurrency : o.subscribers, need, limit));
  if (speaks_ours(o.target) && o.token.empty())
    throw std::invalid_argument("--token is required for --target " + std::string(to_string(o.target)));
  if (o.scenario == "fanout") return run_fanout(o);
  if (o.scenario == "idle") return run_idle(o);
  if (o.scenario == "connect") return run_connect(o);
  if (o.scenario == "ingest") return run_ingest(o);
  throw std::invalid_argument("unknown scenario " + o.scenario);
}

std::string to_json(const Report& r) {
  json::object out{{"scenario", r.scenario},
                   {"target", to_string(r.target)},
                   {"parameters", r.parameters},
                   {"results", r.results}};
  return json::serialize(out);
}

}  // namespace valtronics::bench
