// permessage-deflate with zlib: negotiation, and per-message compression with one deflate and
// one inflate stream per thread (never per connection: no context takeover either way).
#include "protocol/permessage_deflate.hpp"
#include "util/text.hpp"

#include <zlib.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <memory>
#include <new>
#include <vector>

namespace valtronics::protocol::deflate {

namespace {

// One offer: "permessage-deflate; param[=value]; ..."; nullopt if we cannot accept it.
std::optional<Agreement> accept_offer(std::string_view offer) {
  std::vector<std::string_view> parts;
  for (;;) {
    auto at = offer.find(';');
    parts.push_back(util::trim_blanks(offer.substr(0, at)));
    if (at == std::string_view::npos) break;
    offer.remove_prefix(at + 1);
  }
  if (parts.empty() || parts[0] != "permessage-deflate") return std::nullopt;
  Agreement a;
  bool seen_server_bits = false, seen_client_bits = false, seen_snct = false, seen_cnct = false;
  for (std::size_t i = 1; i < parts.size(); ++i) {
    std::string_view name = parts[i], value;
    if (auto eq = name.find('='); eq != std::string_view::npos) {
      value = util::trim_blanks(name.substr(eq + 1));
      name = util::trim_blanks(name.substr(0, eq));
      if (value.size() >= 2 && value.front() == '"' && value.back() == '"')
        value = value.substr(1, value.size() - 2);
    }
    auto bits = [&](int& out) {
      if (value.size() == 1 && value[0] >= '8' && value[0] <= '9') out = value[0] - '0';
      else if (value.size() == 2 && value[0] == '1' && value[1] >= '0' && value[1] <= '5')
        out = 10 + (value[1] - '0');
      else return false;
      return true;
    };
    if (name == "server_no_context_takeover" && value.empty() && !seen_snct) {
      seen_snct = true;
    } else if (name == "client_no_context_takeover" && value.empty() && !seen_cnct) {
      seen_cnct = true;
    } else if (name == "server_max_window_bits" && !seen_server_bits) {
      seen_server_bits = true;
      int n = 0;
      // zlib's raw deflate cannot keep a 256-byte window (it uses 512): decline 8.
      if (!bits(n) || n < 9) return std::nullopt;
      a.server_window_bits = n;
    } else if (name == "client_max_window_bits" && !seen_client_bits) {
      // The client's window limit for its own compression: with client_no_context_takeover
      // its messages never refer to earlier ones, so any window is fine for our inflater.
      seen_client_bits = true;
      int n = 0;
      if (!value.empty() && !bits(n)) return std::nullopt;
    } else {
      return std::nullopt;
    }
  }
  a.response = "permessage-deflate; server_no_context_takeover; client_no_context_takeover";
  if (seen_server_bits)
    a.response += "; server_max_window_bits=" + std::to_string(a.server_window_bits);
  return a;
}

// The thread's deflate stream for a window size (9..15), reset per message.
z_stream& deflater(int window_bits) {
  struct Streams {
    std::array<std::unique_ptr<z_stream>, 16> by_bits{};
    ~Streams() {
      for (auto& z : by_bits)
        if (z) deflateEnd(z.get());
    }
  };
  thread_local Streams streams;
  auto& z = streams.by_bits[static_cast<std::size_t>(window_bits)];
  if (!z) {
    z = std::make_unique<z_stream>();
    std::memset(z.get(), 0, sizeof(z_stream));
    // memLevel 8: zlib's default; level 6 likewise. Once per thread and window size.
    if (deflateInit2(z.get(), Z_DEFAULT_COMPRESSION, Z_DEFLATED, -window_bits, 8,
                     Z_DEFAULT_STRATEGY) != Z_OK)
      throw std::bad_alloc();
  } else {
    deflateReset(z.get());
  }
  return *z;
}

z_stream& inflater() {
  struct Stream {
    std::unique_ptr<z_stream> z;
    ~Stream() {
      if (z) inflateEnd(z.get());
    }
  };
  thread_local Stream s;
  if (!s.z) {
    s.z = std::make_unique<z_stream>();
    std::memset(s.z.get(), 0, sizeof(z_stream));
    if (inflateInit2(s.z.get(), -15) != Z_OK) throw std::bad_alloc();
  } else {
    inflateReset(s.z.get());
  }
  return *s.z;
}

}  // namespace

std::optional<Agreement> negotiate(std::string_view offers) {
  for (;;) {
    auto at = offers.find(',');
    if (auto a = accept_offer(util::trim_blanks(offers.substr(0, at)))) return a;
    if (at == std::string_view::npos) return std::nullopt;
    offers.remove_prefix(at + 1);
  }
}

std::string compress(std::string_view payload, int window_bits, bool open_end) {
  z_stream& z = deflater(window_bits);
  std::string out;
  out.resize(deflateBound(&z, payload.size()) + 16);
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(payload.data()));
  z.avail_in = static_cast<uInt>(payload.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  // The bound covers the input and the sync flush's empty stored block.
  ::deflate(&z, Z_SYNC_FLUSH);
  out.resize(out.size() - z.avail_out);
  if (!open_end && out.size() >= 4) out.resize(out.size() - 4);  // 0x00 0x00 0xff 0xff
  return out;
}

std::size_t stored_block(std::string_view bytes, char* out) {
  // BFINAL 0, BTYPE 00 (one header byte at a byte boundary), LEN and NLEN little-endian, the bytes.
  const auto len = static_cast<std::uint16_t>(bytes.size());
  out[0] = 0;
  out[1] = static_cast<char>(len & 0xff);
  out[2] = static_cast<char>(len >> 8);
  out[3] = static_cast<char>(~len & 0xff);
  out[4] = static_cast<char>((~len >> 8) & 0xff);
  std::memcpy(out + 5, bytes.data(), bytes.size());
  return bytes.size() + kStoredBlockOverhead;
}

std::size_t stored_tail(std::string_view tail, char* out) {
  // A stored block after the sync flush's byte boundary, then the header byte of the final
  // sync flush's empty stored block, whose LEN/NLEN (0x00 0x00 0xff 0xff) the receiver appends.
  const std::size_t n = stored_block(tail, out);
  out[n] = 0;
  return n + 1;
}

std::optional<std::string> decompress(std::string_view data, std::size_t max_bytes) {
  z_stream& z = inflater();
  std::string input(data);
  input.append("\x00\x00\xff\xff", 4);
  std::string out;
  out.resize(std::min<std::size_t>(max_bytes + 1, std::max<std::size_t>(256, data.size() * 4)));
  z.next_in = reinterpret_cast<Bytef*>(input.data());
  z.avail_in = static_cast<uInt>(input.size());
  std::size_t produced = 0;
  for (;;) {
    z.next_out = reinterpret_cast<Bytef*>(out.data() + produced);
    z.avail_out = static_cast<uInt>(out.size() - produced);
    const int rc = ::inflate(&z, Z_SYNC_FLUSH);
    produced = out.size() - z.avail_out;
    if (produced > max_bytes) return std::nullopt;  // a bomb, or just too big: 1009
    if (rc == Z_STREAM_END) break;
    if (rc != Z_OK && rc != Z_BUF_ERROR) return std::nullopt;
    if (z.avail_out == 0) {  // more may be pending: room for it, up to one byte past the limit
      out.resize(std::min(max_bytes + 1, out.size() * 2));
      continue;
    }
    if (z.avail_in == 0) break;  // every byte read, room left: the whole message
    return std::nullopt;         // input left that cannot be decoded
  }
  out.resize(produced);
  return out;
}

}  // namespace valtronics::protocol::deflate
