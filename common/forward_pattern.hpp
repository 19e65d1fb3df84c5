#pragma once
// The destinations a forward grant allows (SPEC §16 `--forward-to
// HOST:PORT[,...]`). HOST is a glob (common/glob) over what the client asks
// for, compared without regard to case; PORT a number or `*`. An IPv6 host is
// written in brackets: `[2001:db8::10]:443`.
//
// A pattern that is written as an address matches only addresses: one made of
// digits, dots and glob characters (`10.1.*`) matches only IPv4 literals, one
// in brackets only IPv6 literals (in their canonical text), so `10.1.*:22` can
// never admit a DNS name such as `10.1.attacker.example`, which the target
// would resolve anywhere. A name pattern (`*.db.internal`) matches names and
// addresses alike, as written.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.hpp"

namespace portcullis {

class ForwardPattern {
  public:
    static Result<ForwardPattern> parse(std::string_view text);
    bool matches(std::string_view host, int port) const;
    // As written, lower-cased: "db.internal:5432", "*.corp:*", "[::1]:22".
    std::string toString() const;

  private:
    enum class Kind { name, ipv4, ipv6 };
    Kind kind_ = Kind::name;
    std::string host_;         // lower case; IPv6 without brackets, canonical when no glob
    std::optional<int> port_;  // nullopt: any port
};

// "a:22,b:*" (spaces around items allowed); refuses an empty list or item.
Result<std::vector<ForwardPattern>> parseForwardPatterns(std::string_view list);
// Whether any pattern matches; `patterns` as stored (an unreadable one matches nothing).
bool forwardAllowed(const std::vector<std::string>& patterns, std::string_view host, int port);

// "HOST:PORT" as `policy check --to` takes a destination ("[v6]:PORT" for IPv6).
struct ForwardDestination {
    std::string host;
    int port = 0;
    std::string toString() const;
};
Result<ForwardDestination> parseForwardDestination(std::string_view text);

}  // namespace portcullis
