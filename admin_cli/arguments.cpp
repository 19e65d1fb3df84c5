#include "admin_cli/arguments.hpp"

#include <charconv>

#include "admin_cli/cli_error.hpp"
#include "common/user_spec.hpp"

namespace portcullis::cli {

std::string requireName(const std::string& value, std::string_view what) {
    if (!isValidName(value)) {
        throw UsageError("`" + value + "` is not a valid " + std::string(what) +
                         " (1-64 characters of A-Z a-z 0-9 . _ -)");
    }
    return value;
}

std::string requireGroupName(const std::string& value) {
    const std::string name = value.starts_with('@') ? value.substr(1) : value;
    return requireName(name, "group name");
}

Seconds requireDuration(const std::string& value, std::string_view flag) {
    const Seconds d = requireUsage(parseDuration(value), flag);
    if (d <= Seconds::zero()) {
        throw UsageError(std::string(flag) + ": the duration must be more than 0s");
    }
    return d;
}

std::int64_t requirePositiveInteger(const std::string& value, std::string_view what) {
    std::string_view text = value;
    std::int64_t n = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
    if (ec != std::errc() || end != text.data() + text.size() || n <= 0) {
        throw UsageError(std::string(what) + ": expected a positive whole number, got `" + value +
                         "`");
    }
    return n;
}

int requirePort(const std::string& value) {
    const std::int64_t port = requirePositiveInteger(value, "--port");
    if (port > 65535) throw UsageError("--port: " + value + " is not a TCP port (1-65535)");
    return static_cast<int>(port);
}

TimePoint requireInstant(const std::string& value, std::string_view flag) {
    return requireUsage(parseIso8601(value), flag);
}

std::vector<std::string> splitList(const std::string& value, std::string_view flag) {
    std::vector<std::string> items;
    std::size_t start = 0;
    while (true) {
        const std::size_t comma = value.find(',', start);
        std::string item = value.substr(start, comma == std::string::npos ? comma : comma - start);
        if (item.empty()) {
            throw UsageError(std::string(flag) + ": empty item in `" + value +
                             "` (expected a comma-separated list such as a,b)");
        }
        items.push_back(std::move(item));
        if (comma == std::string::npos) break;
        start = comma + 1;
    }
    return items;
}

}  // namespace portcullis::cli
