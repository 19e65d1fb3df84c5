#include "common/forward_pattern.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <charconv>

#include "common/glob.hpp"
#include "common/host_name.hpp"

namespace portcullis {
namespace {

constexpr std::size_t kMaxPatternHost = 253;

std::string lower(std::string_view s) {
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) {
        return static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    });
    return out;
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

bool isGlobChar(char c) {
    return c == '*' || c == '?' || c == '[' || c == ']' || c == '!' || c == '-';
}

std::optional<std::string> canonicalIpv6(std::string_view text) {
    const std::string s(text);
    unsigned char bytes[16];
    if (::inet_pton(AF_INET6, s.c_str(), bytes) != 1) return std::nullopt;
    char out[INET6_ADDRSTRLEN];
    if (::inet_ntop(AF_INET6, bytes, out, sizeof out) == nullptr) return std::nullopt;
    return std::string(out);
}

bool isIpv4(std::string_view text) {
    const std::string s(text);
    unsigned char bytes[4];
    return ::inet_pton(AF_INET, s.c_str(), bytes) == 1;
}

std::optional<int> parsePort(std::string_view text) {
    int port = 0;
    const auto* end = text.data() + text.size();
    const auto [ptr, ec] = std::from_chars(text.data(), end, port);
    if (text.empty() || ec != std::errc() || ptr != end || port < 1 || port > 65535)
        return std::nullopt;
    return port;
}

// Splits "HOST:PORT" / "[V6]:PORT" at the port's colon; host without brackets.
bool splitHostPort(std::string_view text, std::string_view& host, std::string_view& port,
                   bool& bracketed) {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos) return false;
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    bracketed = host.size() >= 2 && host.front() == '[' && host.back() == ']' &&
                host.find(':') != std::string_view::npos;
    if (bracketed) host = host.substr(1, host.size() - 2);
    // An unbracketed IPv6 address would be cut at its last colon.
    return bracketed || host.find(':') == std::string_view::npos;
}

}  // namespace

Result<ForwardPattern> ForwardPattern::parse(std::string_view text) {
    const auto usage = [&](const std::string& why) {
        return makeError("forward destination `" + std::string(text.substr(0, 80)) + "`: " + why +
                         " (use HOST:PORT with HOST a name, address or glob and PORT a number "
                         "or *, e.g. db.internal:5432, 10.1.2.*:22, [2001:db8::10]:443)");
    };
    std::string_view host;
    std::string_view port;
    bool bracketed = false;
    if (!splitHostPort(text, host, port, bracketed)) return usage("no port");
    const bool named = std::any_of(host.begin(), host.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '*' || c == '?';
    });
    if (host.empty() || host.size() > kMaxPatternHost || !named) return usage("no host");
    ForwardPattern p;
    if (port != "*") {
        p.port_ = parsePort(port);
        if (!p.port_) return usage("the port must be 1-65535 or *");
    }
    const bool glob = isGlob(host);
    if (bracketed) {
        p.kind_ = Kind::ipv6;
        const bool ok = std::all_of(host.begin(), host.end(), [](char c) {
            return std::isxdigit(static_cast<unsigned char>(c)) || c == ':' || c == '.' ||
                   c == '*' || c == '?';
        });
        if (!ok) return usage("an IPv6 pattern holds hex digits, ':', '*' and '?' only");
        if (!glob) {
            const auto canonical = canonicalIpv6(host);
            if (!canonical) return usage("not an IPv6 address");
            p.host_ = *canonical;
        } else {
            p.host_ = lower(host);
        }
        return p;
    }
    const bool allowed = std::all_of(host.begin(), host.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || isGlobChar(c);
    });
    if (!allowed) return usage("a host holds letters, digits, '.', '-', '_' and glob characters");
    if (!glob && !isValidHostName(host)) return usage("not a host name or address");
    const bool addressLike = std::all_of(host.begin(), host.end(), [](char c) {
        return (c >= '0' && c <= '9') || c == '.' || isGlobChar(c);
    });
    const bool anything = std::all_of(host.begin(), host.end(), [](char c) { return c == '*'; });
    p.kind_ = addressLike && !anything ? Kind::ipv4 : Kind::name;
    p.host_ = lower(host);
    return p;
}

bool ForwardPattern::matches(std::string_view host, int port) const {
    if (port_ && *port_ != port) return false;
    switch (kind_) {
        case Kind::ipv4:
            return isIpv4(host) && globMatch(host_, host);
        case Kind::ipv6: {
            const auto canonical = canonicalIpv6(host);
            return canonical && globMatch(host_, *canonical);
        }
        case Kind::name:
            return globMatch(host_, lower(host));
    }
    return false;
}

std::string ForwardPattern::toString() const {
    const std::string port = port_ ? std::to_string(*port_) : "*";
    return (kind_ == Kind::ipv6 ? "[" + host_ + "]" : host_) + ":" + port;
}

Result<std::vector<ForwardPattern>> parseForwardPatterns(std::string_view list) {
    std::vector<ForwardPattern> out;
    std::size_t start = 0;
    while (true) {
        const auto comma = list.find(',', start);
        const auto item = trim(list.substr(start, comma - start));
        if (item.empty()) {
            return makeError("empty destination in `" + std::string(list.substr(0, 80)) +
                             "` (use HOST:PORT[,HOST:PORT...])");
        }
        auto p = ForwardPattern::parse(item);
        if (!p) return makeError(p.error());
        out.push_back(std::move(p).value());
        if (comma == std::string_view::npos) break;
        start = comma + 1;
    }
    return out;
}

bool forwardAllowed(const std::vector<std::string>& patterns, std::string_view host, int port) {
    return std::any_of(patterns.begin(), patterns.end(), [&](const std::string& text) {
        const auto p = ForwardPattern::parse(text);
        return p && p->matches(host, port);
    });
}

std::string ForwardDestination::toString() const {
    const bool v6 = host.find(':') != std::string::npos;
    return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

Result<ForwardDestination> parseForwardDestination(std::string_view text) {
    std::string_view host;
    std::string_view port;
    bool bracketed = false;
    const auto usage = makeError("`" + std::string(text.substr(0, 80)) +
                                 "` is not a destination HOST:PORT (e.g. db.internal:5432, "
                                 "[2001:db8::10]:443)");
    if (!splitHostPort(text, host, port, bracketed)) return usage;
    const auto number = parsePort(port);
    if (!number || !isValidHostName(host) || (bracketed && !canonicalIpv6(host).has_value())) {
        return usage;
    }
    return ForwardDestination{std::string(host), *number};
}

}  // namespace portcullis
