// (issue 12) This server as a node of a cluster (docs/deployment.md): nodes share one NATS and
// one PostgreSQL database; a client on any node gets every event it subscribed to exactly once,
// whichever node ingested the reading or raised the alert.
//
// Over NATS (subjects under cluster.name, "valtronics" by default):
//   {name}.node.{id}         heartbeats, every second: the node, its partitions, its interest
//   {name}.ev.{ch}.{device}  events (t: telemetry, a: alerts, d: device status), published by the
//                            node where they happened, only when a live node wants them
//   {name}.part.{p}          readings and status reports forwarded to partition p's owner
//   {name}.reply.{id}.{rid}  the owner's answer to one forwarded request
//   {name}.ctl               changes other nodes read again (rules, a device's record)
// and a JetStream key-value bucket, {name}_leases, holding one lease per partition.
//
// Partitions: devices are spread over cluster.partitions partitions (engine/partition.hpp); a
// node owns a partition while it holds its lease (renewed every lease_ttl / 3; it expires
// lease_ttl after the last renewal). Only the owner tracks a device's status and evaluates its
// rules, so an alert is raised once. Free partitions are looked for every 0.5 s: one goes to its
// preferred live node (membership.hpp), or to any node once it has been free for half a lease; a
// node hands a partition to its preferred owner when that node has been up a few seconds.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/json/object.hpp>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "cluster/membership.hpp"
#include "cluster/nats_link.hpp"
#include "cluster/wire.hpp"
#include "config/config.hpp"
#include "engine/engine.hpp"
#include "hub/hub.hpp"
#include "session/connection_registry.hpp"

namespace valtronics::cluster {

class Node final : public engine::Forwarder {
 public:
  // Before the engine and the I/O threads start: it sets the engine's partitioning and the
  // hub's export. `node_id`: cluster.node_id, or the default the caller made of it.
  Node(const config::Config& cfg, std::string node_id, engine::Engine& engine, hub::Hub& hub,
       session::ConnectionRegistry& registry);
  ~Node() override;

  void start();  // connects (in the background) and begins heartbeats and leases
  // Hands its partitions over (their state committed, their leases deleted), says it leaves,
  // and closes. While the engine still runs.
  void stop();

  // engine::Forwarder (any thread)
  void forward_ingest(unsigned partition, std::vector<model::TelemetryEvent> events,
                      engine::IngestMode mode,
                      std::function<void(model::Result<engine::Verdicts>)> reply) override;
  void forward_report(unsigned partition, std::int64_t device, model::StatusReport report,
                      std::function<void(model::Result<void>)> reply) override;

  // For /health and the stats (any thread): node id, NATS link, peers, partitions owned,
  // forwarding and event counters.
  boost::json::object describe() const;
  bool nats_connected() const { return link_.connected(); }
  // Cluster-wide figures for the system channel: live nodes (this one included) and their
  // WebSocket connections together.
  std::vector<std::pair<std::string, double>> cluster_figures() const;

 private:
  struct Pending;  // a forwarded request waiting for its answer
  struct Lease {
    std::uint64_t revision = 0;
    std::chrono::steady_clock::time_point valid_until;
  };

  void run_timers();
  void on_heartbeat_timer();
  void on_fast_timer();    // interest changes, forward retries and timeouts
  void on_lease_timer();
  void maintain_leases();  // blocking KV calls, on the node's thread
  // Leases won in one scan: the engine reads their devices' state in one pass.
  void gain(const std::map<unsigned, std::uint64_t>& won);
  void lose(unsigned p, bool hand_over);
  void refresh_wanted();  // under mu_
  void send_heartbeat(bool leaving = false);
  void update_event_subscriptions();
  void export_events(std::span<const hub::EventPtr> events);
  void on_event(std::string_view data);
  void on_request(std::string_view data, std::string_view reply);
  void on_answer(std::string_view subject, std::string_view data);
  void forward(unsigned partition, std::string payload,
               std::function<void(std::optional<model::DomainError>, engine::Verdicts)> done);
  void queue(std::unique_ptr<Pending> p);  // pending, and sent
  void send(Pending& p);
  void apply_here(const Pending& p);  // a request for a partition this node owns now
  void finish(std::uint64_t rid, std::optional<model::DomainError> error,
              engine::Verdicts verdicts);
  void answer(const std::string& reply_to, const wire::Answer& a);

  std::string subject(const std::string& tail) const { return name_ + "." + tail; }

  const config::ClusterConfig cfg_;
  const std::string name_;
  const std::string id_;
  engine::Engine& engine_;
  hub::Hub& hub_;
  session::ConnectionRegistry& registry_;
  NatsLink link_;

  boost::asio::io_context ioc_{1};
  boost::asio::steady_timer heartbeat_timer_, fast_timer_, lease_timer_;
  std::thread thread_;
  std::chrono::steady_clock::time_point started_at_{};
  bool bucket_open_ = false;
  std::chrono::steady_clock::time_point last_renewal_{};  // node thread

  // Subscriptions: heartbeats, answers, changes; events by subject; partitions owned.
  std::unique_ptr<NatsLink::Subscription> heartbeats_sub_, answers_sub_, control_sub_;
  std::map<std::string, std::unique_ptr<NatsLink::Subscription>> event_subs_;  // node thread
  std::uint64_t interest_version_seen_ = ~0ull;
  InterestSet local_interest_;  // node thread

  mutable std::mutex mu_;  // peers_, wanted_, part_subs_, leases_
  Peers peers_;
  std::shared_ptr<const InterestSet> wanted_;  // what the live peers want
  std::map<unsigned, std::unique_ptr<NatsLink::Subscription>> part_subs_;
  std::map<unsigned, Lease> leases_;  // held by this node (node thread writes)
  std::map<unsigned, std::chrono::steady_clock::time_point> free_since_;  // node thread

  std::mutex pending_mu_;
  std::unordered_map<std::uint64_t, std::unique_ptr<Pending>> pending_;
  std::atomic<std::uint64_t> next_rid_{1};

  // Requests this node answers, by reply subject: a sender's retry of a request already being
  // applied or applied is not applied again (the answer is sent again).
  struct Answered {
    std::string text;  // empty while the engine applies it
    std::chrono::steady_clock::time_point at;
  };
  std::mutex answered_mu_;
  std::unordered_map<std::string, Answered> answered_;

  std::atomic<std::uint64_t> forwarded_{0}, forward_failures_{0}, events_out_{0}, events_in_{0};
  std::atomic<bool> stopping_{false};
};

}  // namespace valtronics::cluster
