// A cluster node (node.hpp): heartbeats, leases, event export and import, forwarded requests.
#include "cluster/node.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>
#include <boost/json.hpp>

#include <algorithm>
#include <future>

#include "cluster/wire.hpp"
#include "util/thread_name.hpp"

namespace valtronics::cluster {

using std::chrono::milliseconds;
using SteadyClock = std::chrono::steady_clock;

namespace {

constexpr milliseconds kHeartbeatPeriod{1000};
constexpr milliseconds kPeerExpiry{3500};     // three heartbeats missed
constexpr milliseconds kFastPeriod{50};       // interest changes, forward retries
constexpr milliseconds kAttemptTimeout{2000}; // a forwarded request unanswered is sent again
constexpr milliseconds kRetryDelay{150};      // after "no owner" or "not the owner"
constexpr milliseconds kStartupQuiet{1500};   // learn the peers before taking partitions
constexpr milliseconds kHandOverAfter{3000};  // a new node gets partitions once up this long
constexpr milliseconds kLeaseScan{500};       // free partitions are looked for this often
// A peer silent this long no longer counts as a partition's preferred owner (it is probably
// gone; it is dropped altogether at kPeerExpiry), so its partitions are taken as soon as their
// leases expire.
constexpr milliseconds kPreferredWithin{2000};
constexpr auto kAnsweredKept = std::chrono::seconds(60);

// Subject letters of the event channels (system events stay on their node: each node's system
// updates carry the cluster-wide figures instead).
const char* channel_letter(model::Channel c) {
  switch (c) {
    case model::Channel::telemetry: return "t";
    case model::Channel::alerts: return "a";
    case model::Channel::devices: return "d";
    case model::Channel::system: return nullptr;
  }
  return nullptr;
}

std::string lease_key(unsigned p) { return "p" + std::to_string(p); }

model::DomainError stopping_error() {
  return {model::DomainError::Kind::unavailable, "the server is stopping", {}, {}};
}

bool is_not_owner(const model::DomainError& e) {
  return e.kind == model::DomainError::Kind::unavailable && e.details.contains("not_owner");
}

}  // namespace

struct Node::Pending {
  std::uint64_t rid = 0;
  unsigned partition = 0;
  std::string payload;
  SteadyClock::time_point deadline, next_send;
  // The owner's answer: its refusal, or the verdicts (ingest mode `each`; empty otherwise).
  std::function<void(std::optional<model::DomainError>, engine::Verdicts)> done;
  bool local = false;  // handed to this node's engine (the partition became ours)
};

Node::Node(const config::Config& cfg, std::string node_id, engine::Engine& engine, hub::Hub& hub,
           session::ConnectionRegistry& registry)
    : cfg_(cfg.cluster),
      name_(cfg.cluster.name),
      id_(std::move(node_id)),
      engine_(engine),
      hub_(hub),
      registry_(registry),
      link_(cfg.cluster.nats_url, "valtronics " + id_),
      heartbeat_timer_(ioc_),
      fast_timer_(ioc_),
      lease_timer_(ioc_),
      peers_(kPeerExpiry),
      wanted_(std::make_shared<InterestSet>()) {
  engine_.enable_partitioning(cfg_.partitions, this, [this](engine::Change c) {
    link_.publish(subject("ctl"), wire::encode_change(c));
  });
  hub_.enable_cluster([this](std::span<const hub::EventPtr> events) { export_events(events); });
}

Node::~Node() {
  hub_.enable_cluster({});  // nothing publishes any more: the hub no longer refers to this node
  if (thread_.joinable()) {
    ioc_.stop();
    thread_.join();
  }
}

void Node::start() {
  link_.start();
  started_at_ = SteadyClock::now();
  heartbeats_sub_ = link_.subscribe(
      subject("node.*"), [this](std::string_view, std::string_view data, std::string_view) {
        Heartbeat h;
        try {
          h = decode_heartbeat(data);
        } catch (const wire::WireError& e) {
          spdlog::warn("cluster: {}", e.what());
          return;
        }
        if (h.node == id_) return;
        std::lock_guard lock(mu_);
        const bool known = peers_.all().count(h.node) > 0;
        if (peers_.on_heartbeat(h, SteadyClock::now())) refresh_wanted();
        if (!known && !h.leaving) spdlog::info("cluster: node {} joined", h.node);
        if (known && h.leaving) spdlog::info("cluster: node {} left", h.node);
      });
  answers_sub_ = link_.subscribe(
      subject("reply." + id_ + ".*"),
      [this](std::string_view subj, std::string_view data, std::string_view) {
        on_answer(subj, data);
      });
  control_sub_ = link_.subscribe(
      subject("ctl"), [this](std::string_view, std::string_view data, std::string_view) {
        try {
          engine_.reload(wire::decode_change(data));
        } catch (const wire::WireError& e) {
          spdlog::warn("cluster: {}", e.what());
        }
      });
  spdlog::info("cluster: node {} of cluster {} ({} partitions, lease {} ms) via {}", id_, name_,
               cfg_.partitions, cfg_.lease_ttl.count(), NatsLink::display(cfg_.nats_url));
  on_heartbeat_timer();
  on_fast_timer();
  lease_timer_.expires_after(milliseconds(200));
  lease_timer_.async_wait([this](boost::system::error_code ec) {
    if (!ec) on_lease_timer();
  });
  thread_ = std::thread([this] {
    util::name_this_thread("vt-cluster");
    ioc_.run();
  });
}

void Node::stop() {
  if (!thread_.joinable() || stopping_.exchange(true)) return;
  std::promise<void> done;
  boost::asio::post(ioc_, [this, &done] {
    heartbeat_timer_.cancel();
    fast_timer_.cancel();
    lease_timer_.cancel();
    // Hand every partition over: its state committed, its lease deleted, so that the other
    // nodes take it at once rather than after lease_ttl.
    std::vector<unsigned> held;
    {
      std::lock_guard lock(mu_);
      for (const auto& [p, l] : leases_) held.push_back(p);
    }
    for (auto p : held) lose(p, true);
    send_heartbeat(true);
    done.set_value();
  });
  done.get_future().wait();
  ioc_.stop();
  thread_.join();
  // What still waits for an owner's answer is answered now: the node goes away.
  std::unordered_map<std::uint64_t, std::unique_ptr<Pending>> left;
  {
    std::lock_guard lock(pending_mu_);
    left.swap(pending_);
  }
  for (auto& [rid, p] : left) p->done(stopping_error(), {});
  event_subs_.clear();
  {
    std::lock_guard lock(mu_);
    part_subs_.clear();
  }
  heartbeats_sub_.reset();
  answers_sub_.reset();
  control_sub_.reset();
  link_.stop(milliseconds(1000));
}

// ---- timers (the node's thread) ----

void Node::on_heartbeat_timer() {
  send_heartbeat();
  session::ConnectionRegistry::UserCounts elsewhere;
  {
    std::lock_guard lock(mu_);
    if (peers_.expire(SteadyClock::now())) {
      refresh_wanted();
      spdlog::info("cluster: a node stopped sending heartbeats; live peers: {}",
                   peers_.all().size());
    }
    elsewhere = peers_.users();
  }
  // limits.max_connections_per_user counts the user's connections on every node.
  registry_.set_remote_users(std::move(elsewhere));
  heartbeat_timer_.expires_after(kHeartbeatPeriod);
  heartbeat_timer_.async_wait([this](boost::system::error_code ec) {
    if (!ec) on_heartbeat_timer();
  });
}

void Node::on_fast_timer() {
  if (const auto v = hub_.interest().version(); v != interest_version_seen_) {
    interest_version_seen_ = v;
    auto now_interest = InterestSet::from(hub_.interest().snapshot());
    // The engine keeps every device's status (its registry answers reads and snapshots): it
    // wants every status change, whoever else does. They are few.
    const auto devices = static_cast<std::size_t>(model::Channel::devices);
    now_interest.all[devices] = true;
    now_interest.devices[devices].clear();
    if (!(now_interest == local_interest_)) {
      local_interest_ = std::move(now_interest);
      update_event_subscriptions();
      send_heartbeat();  // the peers start sending what is wanted here now
    }
  }
  const auto now = SteadyClock::now();
  std::vector<std::uint64_t> expired;
  {
    std::lock_guard lock(pending_mu_);
    for (auto& [rid, p] : pending_) {
      if (now >= p->deadline)
        expired.push_back(rid);
      else if (now >= p->next_send)
        send(*p);
    }
  }
  for (auto rid : expired) {
    forward_failures_.fetch_add(1, std::memory_order_relaxed);
    finish(rid,
           model::DomainError{model::DomainError::Kind::unavailable,
                              "no node of the cluster took the request in time (a partition is "
                              "moving to a live node); try again",
                              {},
                              {}},
           {});
  }
  {
    std::lock_guard lock(answered_mu_);
    std::erase_if(answered_, [&](const auto& kv) {
      return !kv.second.text.empty() && now - kv.second.at > kAnsweredKept;
    });
  }
  fast_timer_.expires_after(kFastPeriod);
  fast_timer_.async_wait([this](boost::system::error_code ec) {
    if (!ec) on_fast_timer();
  });
}

void Node::on_lease_timer() {
  try {
    maintain_leases();
  } catch (const std::exception& e) {
    spdlog::error("cluster: lease maintenance: {}", e.what());
  }
  lease_timer_.expires_after(kLeaseScan);
  lease_timer_.async_wait([this](boost::system::error_code ec) {
    if (!ec) on_lease_timer();
  });
}

void Node::send_heartbeat(bool leaving) {
  Heartbeat h;
  h.node = id_;
  h.partitions = engine_.owned_partitions();
  h.interest = local_interest_;
  h.connections = registry_.active();
  h.users = registry_.local_users();
  h.leaving = leaving;
  link_.publish(subject("node." + id_), encode_heartbeat(h));
}

void Node::refresh_wanted() { wanted_ = std::make_shared<InterestSet>(peers_.wanted()); }

// ---- leases (the node's thread; KV calls block it for a round trip each) ----

void Node::maintain_leases() {
  const auto now = SteadyClock::now();
  const auto valid_for = cfg_.lease_ttl - cfg_.lease_ttl / 6;  // stop acting before it expires
  std::map<unsigned, Lease> held;
  {
    std::lock_guard lock(mu_);
    held = leases_;
  }
  if (link_.connected() && !bucket_open_)
    bucket_open_ = link_.open_bucket(name_ + "_leases", cfg_.lease_ttl);
  const bool renew = now - last_renewal_ >= cfg_.lease_ttl / 3;
  if (renew) last_renewal_ = now;
  if (link_.connected() && bucket_open_ && renew) {
    for (const auto& [p, lease] : held) {
      std::uint64_t rev = 0;
      switch (link_.kv_update(lease_key(p), id_, lease.revision, rev)) {
        case NatsLink::KvResult::ok: {
          std::lock_guard lock(mu_);
          if (auto it = leases_.find(p); it != leases_.end()) it->second = {rev, now + valid_for};
          break;
        }
        case NatsLink::KvResult::conflict:
          spdlog::warn("cluster: lease of partition {} lost (another node holds it)", p);
          lose(p, false);
          break;
        case NatsLink::KvResult::error:
          break;  // not renewed: it stays valid until valid_until
      }
    }
  }
  // A lease that could not be renewed in time is given up before it expires in NATS, so two
  // nodes never act on one partition.
  {
    std::vector<unsigned> stale;
    {
      std::lock_guard lock(mu_);
      for (const auto& [p, lease] : leases_)
        if (SteadyClock::now() > lease.valid_until) stale.push_back(p);
    }
    for (auto p : stale) {
      spdlog::warn("cluster: lease of partition {} not renewed in time (NATS unreachable?): "
                   "giving it up",
                   p);
      lose(p, false);
    }
  }
  if (!link_.connected() || !bucket_open_ || now - started_at_ < kStartupQuiet) return;

  std::vector<std::string> live;
  std::map<std::string, SteadyClock::time_point> first_seen;
  {
    std::lock_guard lock(mu_);
    for (const auto& [id, peer] : peers_.all()) {
      if (now - peer.last_seen <= kPreferredWithin) live.push_back(id);
      first_seen[id] = peer.first_seen;
    }
  }
  live.push_back(id_);
  std::map<unsigned, std::uint64_t> won;
  for (unsigned p = 0; p < cfg_.partitions; ++p) {
    {
      std::lock_guard lock(mu_);
      if (leases_.count(p)) continue;
    }
    bool failed = false;
    const auto entry = link_.kv_get(lease_key(p), &failed);
    if (failed) continue;
    if (entry) {
      free_since_.erase(p);
      // Ours from before a restart under the same id: take it back with its revision.
      if (entry->value == id_) {
        std::uint64_t rev = 0;
        if (link_.kv_update(lease_key(p), id_, entry->revision, rev) == NatsLink::KvResult::ok)
          won[p] = rev;
      }
      continue;
    }
    const auto since = free_since_.try_emplace(p, now).first->second;
    if (preferred_owner(p, live) != id_ && now - since < cfg_.lease_ttl / 2) continue;
    std::uint64_t rev = 0;
    if (link_.kv_create(lease_key(p), id_, rev) == NatsLink::KvResult::ok) {
      free_since_.erase(p);
      won[p] = rev;
    }
  }
  gain(won);
  // Hand partitions to their preferred owner once it has been up a little while.
  std::vector<unsigned> give;
  {
    std::lock_guard lock(mu_);
    for (const auto& [p, lease] : leases_) {
      const auto pref = preferred_owner(p, live);
      if (pref == id_) continue;
      auto it = first_seen.find(pref);
      if (it != first_seen.end() && now - it->second > kHandOverAfter) give.push_back(p);
    }
  }
  for (auto p : give) lose(p, true);
}

void Node::gain(const std::map<unsigned, std::uint64_t>& won) {
  if (won.empty()) return;
  std::vector<unsigned> ps;
  {
    std::lock_guard lock(mu_);
    for (const auto& [p, revision] : won) {
      leases_[p] = {revision, SteadyClock::now() + cfg_.lease_ttl - cfg_.lease_ttl / 6};
      ps.push_back(p);
    }
  }
  spdlog::info("cluster: {} partition(s) acquired", ps.size());
  // Requests for them are taken once the engine has read their state.
  engine_.adopt_partitions(ps, [this, ps] {
    std::lock_guard lock(mu_);
    for (auto p : ps) {
      if (!leases_.count(p) || part_subs_.count(p)) continue;  // lost again meanwhile
      part_subs_[p] = link_.subscribe(
          subject("part." + std::to_string(p)),
          [this](std::string_view, std::string_view data, std::string_view reply) {
            on_request(data, reply);
          });
    }
  });
}

void Node::lose(unsigned p, bool hand_over) {
  {
    std::lock_guard lock(mu_);
    part_subs_.erase(p);  // requests for it go to the next owner (the senders retry)
    leases_.erase(p);
  }
  engine_.release_partitions({p});
  if (!hand_over) return;
  // Everything the engine did for the partition is committed before the next owner reads it:
  // wait for the engine to pass the release, then for the writer.
  std::promise<void> passed;
  engine_.adopt_partitions({}, [&passed] { passed.set_value(); });
  passed.get_future().wait_for(std::chrono::seconds(5));
  engine_.flush();
  link_.kv_delete(lease_key(p));
  spdlog::info("cluster: partition {} handed over", p);
}

// ---- events ----

void Node::update_event_subscriptions() {
  std::set<std::string> want;
  for (auto ch : {model::Channel::telemetry, model::Channel::alerts, model::Channel::devices}) {
    const auto i = static_cast<std::size_t>(ch);
    const std::string prefix = subject(std::string("ev.") + channel_letter(ch) + ".");
    if (local_interest_.all[i]) {
      want.insert(prefix + "*");
      continue;
    }
    for (auto d : local_interest_.devices[i]) want.insert(prefix + std::to_string(d));
  }
  std::erase_if(event_subs_, [&](const auto& kv) { return !want.count(kv.first); });
  for (const auto& s : want) {
    if (event_subs_.count(s)) continue;
    event_subs_[s] = link_.subscribe(
        s, [this](std::string_view, std::string_view data, std::string_view) { on_event(data); });
  }
}

void Node::export_events(std::span<const hub::EventPtr> events) {
  std::shared_ptr<const InterestSet> wanted;
  {
    std::lock_guard lock(mu_);
    wanted = wanted_;
  }
  for (const auto& e : events) {
    const char* letter = channel_letter(e->channel);
    if (!letter) continue;
    const auto device = e->device_id();
    if (!wanted->wants(e->channel, device)) continue;  // no live node wants it
    if (link_.publish(subject(std::string("ev.") + letter + "." + std::to_string(device)),
                      wire::encode_event(e->body)))
      events_out_.fetch_add(1, std::memory_order_relaxed);
  }
}

void Node::on_event(std::string_view data) {
  try {
    std::vector<model::EventBody> bodies;
    bodies.push_back(wire::decode_event(data));
    events_in_.fetch_add(1, std::memory_order_relaxed);
    engine_.apply_remote(std::move(bodies));
  } catch (const wire::WireError& e) {
    spdlog::warn("cluster: {}", e.what());
  }
}

// ---- forwarded requests: the sender ----

void Node::send(Pending& p) {
  // The partition may have become this node's since the engine forwarded the request (its
  // lease was won meanwhile): NATS never hands a node its own messages (no echo), so the engine
  // takes it back here.
  const auto owned = engine_.owned_partitions();
  if (std::find(owned.begin(), owned.end(), p.partition) != owned.end()) {
    if (!p.local) {  // once: a slow answer (a commit waiting for storage) is no reason to retry
      p.local = true;
      apply_here(p);
    }
    p.next_send = SteadyClock::now() + kAttemptTimeout;
    return;
  }
  const bool sent = link_.publish(subject("part." + std::to_string(p.partition)), p.payload,
                                  subject("reply." + id_ + "." + std::to_string(p.rid)));
  p.next_send = SteadyClock::now() + (sent ? kAttemptTimeout : kRetryDelay);
}

void Node::apply_here(const Pending& p) {
  const auto rid = p.rid;
  const auto answered = [this, rid](std::optional<model::DomainError> error,
                                    engine::Verdicts verdicts) {
    if (error && is_not_owner(*error)) {  // moved again: the next attempt sends it on
      std::lock_guard lock(pending_mu_);
      if (auto it = pending_.find(rid); it != pending_.end()) it->second->local = false;
      return;
    }
    finish(rid, std::move(error), std::move(verdicts));
  };
  try {
    if (wire::op_of(p.payload) == "ingest") {
      auto req = wire::decode_ingest(p.payload);
      engine_.ingest_forwarded(std::move(req.events), req.mode,
                               [answered](model::Result<engine::Verdicts> r) {
                                 if (!r) return answered(r.error(), {});
                                 answered(std::nullopt, std::move(*r));
                               });
    } else {
      auto req = wire::decode_report(p.payload);
      engine_.report_forwarded(req.device_id, std::move(req.report),
                               [answered](model::Result<void> r) {
                                 if (!r) return answered(r.error(), {});
                                 answered(std::nullopt, {});
                               });
    }
  } catch (const wire::WireError& e) {
    spdlog::error("cluster: a request of this node: {}", e.what());
  }
}

void Node::queue(std::unique_ptr<Pending> p) {
  if (stopping_.load()) return p->done(stopping_error(), {});  // no timer retries it any more
  std::lock_guard lock(pending_mu_);
  auto& ref = *p;
  pending_.emplace(ref.rid, std::move(p));
  send(ref);
}

void Node::forward(unsigned partition, std::string payload,
                   std::function<void(std::optional<model::DomainError>, engine::Verdicts)> done) {
  auto p = std::make_unique<Pending>();
  p->rid = next_rid_.fetch_add(1);
  p->partition = partition;
  p->payload = std::move(payload);
  p->deadline = SteadyClock::now() + 2 * cfg_.lease_ttl + std::chrono::seconds(2);
  p->done = std::move(done);
  forwarded_.fetch_add(1, std::memory_order_relaxed);
  queue(std::move(p));
}

void Node::forward_ingest(unsigned partition, std::vector<model::TelemetryEvent> events,
                          engine::IngestMode mode,
                          std::function<void(model::Result<engine::Verdicts>)> reply) {
  forward(partition, wire::encode_ingest({mode, std::move(events)}),
          [reply = std::move(reply)](std::optional<model::DomainError> e, engine::Verdicts v) {
            if (e) return reply(std::move(*e));
            reply(std::move(v));
          });
}

void Node::forward_report(unsigned partition, std::int64_t device, model::StatusReport report,
                          std::function<void(model::Result<void>)> reply) {
  forward(partition, wire::encode_report({device, std::move(report)}),
          [reply = std::move(reply)](std::optional<model::DomainError> e, engine::Verdicts) {
            if (e) return reply(std::move(*e));
            reply(model::Result<void>{});
          });
}

void Node::on_answer(std::string_view subj, std::string_view data) {
  const auto dot = subj.rfind('.');
  std::uint64_t rid = 0;
  try {
    rid = std::stoull(std::string(subj.substr(dot + 1)));
  } catch (const std::exception&) {
    return;
  }
  if (data.empty()) {
    // NATS' "no responders": nobody owns the partition right now. Try again shortly.
    std::lock_guard lock(pending_mu_);
    if (auto it = pending_.find(rid); it != pending_.end())
      it->second->next_send = SteadyClock::now() + kRetryDelay;
    return;
  }
  wire::Answer a;
  try {
    a = wire::decode_answer(data);
  } catch (const wire::WireError& e) {
    spdlog::warn("cluster: {}", e.what());
    return;
  }
  if (a.error && is_not_owner(*a.error)) {
    std::lock_guard lock(pending_mu_);
    if (auto it = pending_.find(rid); it != pending_.end())
      it->second->next_send = SteadyClock::now() + kRetryDelay;
    return;
  }
  finish(rid, std::move(a.error), std::move(a.verdicts));
}

void Node::finish(std::uint64_t rid, std::optional<model::DomainError> error,
                  engine::Verdicts verdicts) {
  std::unique_ptr<Pending> p;
  {
    std::lock_guard lock(pending_mu_);
    auto it = pending_.find(rid);
    if (it == pending_.end()) return;  // answered already (a retry's second answer)
    p = std::move(it->second);
    pending_.erase(it);
  }
  p->done(std::move(error), std::move(verdicts));
}

// ---- forwarded requests: the owner ----

void Node::on_request(std::string_view data, std::string_view reply) {
  if (reply.empty()) return;
  const std::string key(reply);
  {
    std::lock_guard lock(answered_mu_);
    auto [it, fresh] = answered_.try_emplace(key, Answered{{}, SteadyClock::now()});
    if (!fresh) {
      // A retry of a request this node applies or applied: never twice.
      if (!it->second.text.empty()) link_.publish(key, it->second.text);
      return;
    }
  }
  try {
    const auto op = wire::op_of(data);
    if (op == "ingest") {
      auto req = wire::decode_ingest(data);
      engine_.ingest_forwarded(std::move(req.events), req.mode,
                               [this, key](model::Result<engine::Verdicts> r) {
                                 wire::Answer a;
                                 if (!r)
                                   a.error = r.error();
                                 else
                                   a.verdicts = std::move(*r);
                                 answer(key, a);
                               });
    } else if (op == "report") {
      auto req = wire::decode_report(data);
      engine_.report_forwarded(req.device_id, std::move(req.report),
                               [this, key](model::Result<void> r) {
                                 wire::Answer a;
                                 if (!r) a.error = r.error();
                                 answer(key, a);
                               });
    } else {
      throw wire::WireError("unknown request \"" + op + "\"");
    }
  } catch (const wire::WireError& e) {
    spdlog::warn("cluster: {}", e.what());
    std::lock_guard lock(answered_mu_);
    answered_.erase(key);
  }
}

void Node::answer(const std::string& reply_to, const wire::Answer& a) {
  const auto text = wire::encode_answer(a);
  {
    std::lock_guard lock(answered_mu_);
    if (a.error && is_not_owner(*a.error))
      answered_.erase(reply_to);  // the retry may reach this node again once it owns it
    else
      answered_[reply_to] = {text, SteadyClock::now()};
  }
  link_.publish(reply_to, text);
}

// ---- views ----

boost::json::object Node::describe() const {
  const auto nats_state = link_.status().snapshot();
  boost::json::object nats{{"state", util::LinkStatus::name(nats_state.state)},
                           {"server", nats_state.endpoint},
                           {"connects", nats_state.connects}};
  if (!nats_state.error.empty() && nats_state.state != util::LinkStatus::State::connected)
    nats["error"] = nats_state.error;
  boost::json::array owned;
  for (auto p : engine_.owned_partitions()) owned.push_back(p);
  boost::json::array peers;
  {
    const auto now = SteadyClock::now();
    std::lock_guard lock(mu_);
    for (const auto& [id, p] : peers_.all()) {
      boost::json::array parts;
      for (auto x : p.last.partitions) parts.push_back(x);
      peers.push_back(boost::json::object{
          {"node", id},
          {"partitions", std::move(parts)},
          {"connections", p.last.connections},
          {"seen_seconds_ago", std::chrono::duration<double>(now - p.last_seen).count()}});
    }
  }
  return {{"node_id", id_},
          {"nats", std::move(nats)},
          {"peers", std::move(peers)},
          {"partitions", std::move(owned)},
          {"partition_count", cfg_.partitions},
          {"forwarded_requests", forwarded_.load(std::memory_order_relaxed)},
          {"forward_failures", forward_failures_.load(std::memory_order_relaxed)},
          {"events_published", events_out_.load(std::memory_order_relaxed)},
          {"events_received", events_in_.load(std::memory_order_relaxed)}};
}

std::vector<std::pair<std::string, double>> Node::cluster_figures() const {
  std::lock_guard lock(mu_);
  return {{"cluster_nodes", static_cast<double>(peers_.all().size() + 1)},
          {"cluster_connections",
           static_cast<double>(peers_.connections() + registry_.active())}};
}

}  // namespace valtronics::cluster
