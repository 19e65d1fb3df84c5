#include "common/source_address.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <optional>

namespace portcullis {
namespace {

constexpr std::array<unsigned char, 12> kMappedPrefix{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

struct Address {
    bool ipv6 = false;
    std::array<unsigned char, 16> bytes{};  // IPv4 in the first 4
};

// A literal address (no zone, no brackets); IPv4-mapped IPv6 as IPv4.
std::optional<Address> parseAddress(std::string_view text) {
    if (text.empty() || text.size() >= INET6_ADDRSTRLEN) return std::nullopt;
    const std::string s(text);
    Address a;
    if (::inet_pton(AF_INET, s.c_str(), a.bytes.data()) == 1) return a;
    std::array<unsigned char, 16> v6{};
    if (::inet_pton(AF_INET6, s.c_str(), v6.data()) != 1) return std::nullopt;
    if (std::equal(kMappedPrefix.begin(), kMappedPrefix.end(), v6.begin())) {
        std::copy(v6.begin() + 12, v6.end(), a.bytes.begin());
        return a;
    }
    a.ipv6 = true;
    a.bytes = v6;
    return a;
}

void clearHostBits(std::array<unsigned char, 16>& bytes, int prefix, int total) {
    for (int bit = prefix; bit < total; ++bit) {
        bytes[static_cast<std::size_t>(bit / 8)] &=
            static_cast<unsigned char>(~(0x80 >> (bit % 8)));
    }
}

}  // namespace

std::string sourceBlock(std::string_view address) {
    const std::string text(address);
    std::array<unsigned char, 16> bytes{};
    if (::inet_pton(AF_INET6, text.c_str(), bytes.data()) != 1)
        return text;  // IPv4, or not an address
    if (std::equal(kMappedPrefix.begin(), kMappedPrefix.end(), bytes.begin())) {
        char v4[INET_ADDRSTRLEN];
        if (::inet_ntop(AF_INET, bytes.data() + 12, v4, sizeof v4) != nullptr) return v4;
    }
    std::fill(bytes.begin() + 8, bytes.end(), 0);
    char v6[INET6_ADDRSTRLEN];
    if (::inet_ntop(AF_INET6, bytes.data(), v6, sizeof v6) == nullptr) return text;
    return std::string(v6) + "/64";
}

Result<SourceRange> SourceRange::parse(std::string_view text) {
    const auto slash = text.find('/');
    const auto addressText = text.substr(0, slash);
    const auto address = parseAddress(addressText);
    if (!address) {
        return makeError("`" + std::string(text.substr(0, 64)) +
                         "` is not an IP address or CIDR (e.g. 192.0.2.7, 192.0.2.0/24, "
                         "2001:db8::/48)");
    }
    SourceRange r;
    r.ipv6_ = address->ipv6;
    r.bytes_ = address->bytes;
    const int total = r.ipv6_ ? 128 : 32;
    // An IPv4-mapped address given with an IPv6 prefix ("::ffff:192.0.2.0/120").
    const bool mapped = !r.ipv6_ && addressText.find(':') != std::string_view::npos;
    int prefix = total;
    if (slash != std::string_view::npos) {
        const auto digits = text.substr(slash + 1);
        const auto* end = digits.data() + digits.size();
        const auto [ptr, ec] = std::from_chars(digits.data(), end, prefix);
        const int limit = mapped ? 128 : total;
        if (digits.empty() || ec != std::errc() || ptr != end || prefix < 0 || prefix > limit) {
            return makeError("`" + std::string(text.substr(0, 64)) +
                             "`: the prefix length must be 0 to " + std::to_string(limit));
        }
        if (mapped) {
            if (prefix < 96) {
                return makeError("`" + std::string(text.substr(0, 64)) +
                                 "`: an IPv4-mapped range needs a prefix of at least /96");
            }
            prefix -= 96;
        }
    }
    if (r.ipv6_ && prefix > 64) {
        prefix = 64;
        r.widened_ = true;
    }
    r.prefix_ = prefix;
    clearHostBits(r.bytes_, prefix, total);
    return r;
}

std::string SourceRange::toString() const {
    char buffer[INET6_ADDRSTRLEN];
    if (::inet_ntop(ipv6_ ? AF_INET6 : AF_INET, bytes_.data(), buffer, sizeof buffer) == nullptr)
        return "?";
    return std::string(buffer) + "/" + std::to_string(prefix_);
}

bool SourceRange::contains(std::string_view address) const {
    auto a = parseAddress(address);
    if (!a || a->ipv6 != ipv6_) return false;
    clearHostBits(a->bytes, prefix_, ipv6_ ? 128 : 32);
    return a->bytes == bytes_;
}

}  // namespace portcullis
