// The system channel's sampler: reads the host's real figures from /proc and statvfs each time it
// is asked. A figure that cannot be read (no /proc in a container, an unmounted disk path) is left
// out of the event rather than reported as zero, since a dashboard would take zero as a fact.
#include "engine/system_metrics.hpp"

#include <sys/statvfs.h>
#include <unistd.h>

#include <cmath>
#include <fstream>
#include <optional>
#include <sstream>
#include <string_view>

namespace valtronics::engine {

namespace {

// Divides by the power of ten (rather than multiplying by 1) so the result is the double
// nearest to the decimal and serializes as "23.4", not "23.400000000000002".
double round_to(double v, int decimals) {
  double scale = std::pow(10.0, decimals);
  return std::round(v * scale) / scale;
}

struct CpuTimes {
  std::uint64_t busy = 0, total = 0;
};

std::optional<CpuTimes> read_cpu_times() {
  std::ifstream in("/proc/stat");
  std::string label;
  if (!(in >> label) || label != "cpu") return std::nullopt;
  // user nice system idle iowait irq softirq steal; guest and guest_nice are already counted in
  // user and nice, so adding them would count guest time twice.
  std::uint64_t f[8] = {};
  for (auto& x : f) {
    if (!(in >> x)) return std::nullopt;
  }
  CpuTimes t;
  for (auto x : f) t.total += x;
  std::uint64_t idle = f[3] + f[4];
  t.busy = t.total - idle;
  return t;
}

std::optional<double> read_memory_usage() {
  std::ifstream in("/proc/meminfo");
  std::string key;
  std::uint64_t value = 0;
  std::string unit;
  std::optional<std::uint64_t> total, available;
  while (in >> key >> value) {
    std::getline(in, unit);
    if (key == "MemTotal:") total = value;
    else if (key == "MemAvailable:") available = value;
    if (total && available) break;
  }
  if (!total || !available || *total == 0 || *available > *total) return std::nullopt;
  return 100.0 * static_cast<double>(*total - *available) / static_cast<double>(*total);
}

std::optional<double> read_disk_usage(const std::string& path) {
  struct statvfs st {};
  if (::statvfs(path.c_str(), &st) != 0 || st.f_blocks == 0) return std::nullopt;
  // As df computes it: used against what an unprivileged user could fill, so the root-reserved
  // blocks do not make a full disk look 95% used.
  double frsize = static_cast<double>(st.f_frsize);
  double used = static_cast<double>(st.f_blocks - st.f_bfree) * frsize;
  double avail = static_cast<double>(st.f_bavail) * frsize;
  if (used + avail <= 0) return std::nullopt;
  return 100.0 * used / (used + avail);
}

std::optional<double> read_first_double(const char* path) {
  std::ifstream in(path);
  double v = 0;
  if (!(in >> v)) return std::nullopt;
  return v;
}

std::optional<double> read_rss_mb() {
  std::ifstream in("/proc/self/statm");
  std::uint64_t size = 0, resident = 0;
  if (!(in >> size >> resident)) return std::nullopt;
  long page = ::sysconf(_SC_PAGESIZE);
  if (page <= 0) return std::nullopt;
  return static_cast<double>(resident) * static_cast<double>(page) / (1024.0 * 1024.0);
}

}  // namespace

const std::vector<std::string>& system_metric_names() {
  static const std::vector<std::string> names = {
      "cpu_usage",       "memory_usage",   "disk_usage",     "active_connections",
      "load_average_1m", "process_rss_mb", "uptime_seconds",
      // the abuse figures (issue 10)
      "unauthenticated_connections", "auth_failures", "bans", "banned_addresses",
      "banned_refusals", "limit_violations",
  };
  return names;
}

const std::vector<std::string>& cluster_metric_names() {
  static const std::vector<std::string> names = {"cluster_nodes", "cluster_connections"};
  return names;
}

SystemSampler::SystemSampler(std::string disk_path) : disk_path_(std::move(disk_path)) {}

model::SystemEvent SystemSampler::sample(const ServerFigures& server, util::TimePoint now) {
  model::SystemEvent ev;
  ev.timestamp = now;
  auto& m = ev.metrics;

  if (auto cpu = read_cpu_times()) {
    // Counters only grow; if they went backwards (a restored snapshot) start afresh from boot.
    if (cpu->total < prev_total_ || cpu->busy < prev_busy_) prev_busy_ = prev_total_ = 0;
    std::uint64_t dt = cpu->total - prev_total_;
    if (dt > 0) {
      last_cpu_ = 100.0 * static_cast<double>(cpu->busy - prev_busy_) / static_cast<double>(dt);
      prev_busy_ = cpu->busy;
      prev_total_ = cpu->total;
    }
    m.emplace_back("cpu_usage", round_to(last_cpu_, 1));
  }
  if (auto mem = read_memory_usage()) m.emplace_back("memory_usage", round_to(*mem, 1));
  if (auto disk = read_disk_usage(disk_path_)) m.emplace_back("disk_usage", round_to(*disk, 1));
  m.emplace_back("active_connections", static_cast<double>(server.active_connections));
  if (auto load = read_first_double("/proc/loadavg"))
    m.emplace_back("load_average_1m", round_to(*load, 2));
  if (auto rss = read_rss_mb()) m.emplace_back("process_rss_mb", round_to(*rss, 1));
  if (auto up = read_first_double("/proc/uptime"))
    m.emplace_back("uptime_seconds", std::floor(*up));
  m.emplace_back("unauthenticated_connections",
                 static_cast<double>(server.unauthenticated_connections));
  m.emplace_back("auth_failures", static_cast<double>(server.auth_failures));
  m.emplace_back("bans", static_cast<double>(server.bans));
  m.emplace_back("banned_addresses", static_cast<double>(server.banned_addresses));
  m.emplace_back("banned_refusals", static_cast<double>(server.banned_refusals));
  m.emplace_back("limit_violations", static_cast<double>(server.limit_violations));
  return ev;
}

}  // namespace valtronics::engine
