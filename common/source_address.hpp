#pragma once
// Where a client connects from, as the gateway counts it: admission, code
// throttles and source locks all treat an IPv4 address as one source and an
// IPv6 /64 as one source (a host handed a /64 holds 2^64 addresses).
#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/result.hpp"

namespace portcullis {

// The source a peer address counts against: an IPv4 address as it is (an
// IPv4-mapped IPv6 address as its IPv4 address), an IPv6 address as its /64
// ("2001:db8:1:2::/64"). Text that is not an address is its own source.
std::string sourceBlock(std::string_view address);

// An address range a source lock names: an address or a CIDR. IPv4-mapped
// IPv6 input is taken as IPv4; an IPv6 range narrower than /64 is widened to
// its /64 (one source), and host bits are cleared, so that equal ranges
// print the same.
class SourceRange {
  public:
    // "192.0.2.7", "192.0.2.0/24", "2001:db8::1", "2001:db8::/48".
    static Result<SourceRange> parse(std::string_view text);

    // Canonical form: "192.0.2.7/32", "192.0.2.0/24", "2001:db8:1:2::/64".
    std::string toString() const;
    // Whether a peer address (as the gateway sees it) lies in the range;
    // text that is not an address lies in none.
    bool contains(std::string_view address) const;
    bool ipv6() const { return ipv6_; }
    int prefix() const { return prefix_; }
    // The prefix given was narrower than /64 and was widened.
    bool widened() const { return widened_; }

  private:
    bool ipv6_ = false;
    int prefix_ = 0;
    bool widened_ = false;
    std::array<unsigned char, 16> bytes_{};
};

}  // namespace portcullis
