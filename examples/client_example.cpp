// A complete program on the C++ client SDK (docs/clients/cpp.md walks through it):
//   client_example ws://127.0.0.1:8000/ws <token> [device_id] [count]
// Connects, subscribes to the telemetry of one device and to critical alerts, prints `count`
// telemetry updates (default 5) and exits. Reconnects on its own meanwhile.
#include <boost/json/serialize.hpp>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "client/client.hpp"
#include "client/format.hpp"

int main(int argc, char** argv) {
  namespace vc = valtronics::client;
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s URL TOKEN [DEVICE_ID] [COUNT]\n", argv[0]);
    return 2;
  }
  vc::Options options;
  options.url = argv[1];
  options.token = argv[2];  // or options.token_provider = [] { return fetch_token(); };
  const std::int64_t device = argc > 3 ? std::atoll(argv[3]) : 1;
  const int count = argc > 4 ? std::atoi(argv[4]) : 5;

  vc::Client client(options);
  // Updates arrive on the client's thread; a queue hands them to this one.
  auto telemetry = client.queue("telemetry_update");
  client.on("alert", [](const vc::Message& m) {  // runs on the client's thread
    std::printf("ALERT %s\n", vc::format_line(m.body, "").c_str());
  });
  client.on_state([](const vc::StateChange& s) {
    if (s.state == vc::State::reconnecting)
      std::fprintf(stderr, "reconnecting in %lld ms: %s\n",
                   static_cast<long long>(s.delay.count()), s.detail.c_str());
  });

  try {
    vc::AuthInfo me = client.connect().get();  // throws vc::Error on a refused token
    std::printf("connected as %s (%s)\n", me.user.c_str(), me.role.c_str());
    vc::Subscribed sub =
        client.subscribe("telemetry", {{"device_id", device}}).get();  // throws on an error reply
    std::printf("subscribed to %s, filters %s\n", sub.channel.c_str(),
                boost::json::serialize(sub.filters).c_str());
    client.subscribe("alerts", {{"severity", "critical"}}).get();
  } catch (const vc::Error& e) {
    std::fprintf(stderr, "failed: %s (%s)\n", e.what(), e.code().c_str());
    return 1;
  }

  for (int received = 0; received < count;) {
    auto m = telemetry->pop(std::chrono::seconds(30));
    if (!m) {
      std::fprintf(stderr, "no telemetry for 30 s\n");
      return 1;
    }
    std::printf("%s\n", vc::format_line(m->body, "").c_str());
    ++received;
  }
  client.close();  // also done by the destructor
  return 0;
}
