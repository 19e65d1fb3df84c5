#include "common/host_name.hpp"

#include <arpa/inet.h>

#include <string>

namespace portcullis {
namespace {

constexpr std::size_t kMaxHostName = 253;
constexpr std::size_t kMaxLabel = 63;

bool isLabelChar(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
}

bool isAddress(std::string_view host) {
    const std::string text(host);
    unsigned char buf[16];
    return ::inet_pton(AF_INET, text.c_str(), buf) == 1 ||
           ::inet_pton(AF_INET6, text.c_str(), buf) == 1;
}

}  // namespace

bool isValidHostName(std::string_view host) {
    if (host.empty() || host.size() > kMaxHostName) return false;
    if (host.find('\0') != std::string_view::npos) return false;
    if (isAddress(host)) return true;
    std::size_t start = 0;
    while (start <= host.size()) {
        auto end = host.find('.', start);
        if (end == std::string_view::npos) end = host.size();
        const auto label = host.substr(start, end - start);
        // A trailing dot (an absolute name) leaves one empty last label.
        if (label.empty()) return end == host.size() && start == host.size() && start > 0;
        if (label.size() > kMaxLabel || label.front() == '-' || label.back() == '-') return false;
        for (const char c : label) {
            if (!isLabelChar(c)) return false;
        }
        if (end == host.size()) return true;
        start = end + 1;
    }
    return false;
}

}  // namespace portcullis
