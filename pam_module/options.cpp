#include "pam_module/options.hpp"

#include <charconv>
#include <string_view>

#include "db/state_dir.hpp"

namespace portcullis::pam {
namespace {

// Splits "key=value"; a bare word has no value.
struct Argument {
    std::string_view key;
    std::optional<std::string_view> value;
};

Argument split(std::string_view arg) {
    const auto eq = arg.find('=');
    if (eq == std::string_view::npos) return {arg, std::nullopt};
    return {arg.substr(0, eq), arg.substr(eq + 1)};
}

Result<int> parseWindow(std::string_view text) {
    int value = -1;
    const auto* end = text.data() + text.size();
    const auto [ptr, ec] = std::from_chars(text.data(), end, value);
    if (text.empty() || ec != std::errc() || ptr != end || value < 0 || value > kMaxWindow) {
        return makeError("window= takes a number of steps from 0 to " + std::to_string(kMaxWindow));
    }
    return value;
}

}  // namespace

Result<ModuleOptions> parseOptions(int argc, const char** argv) {
    ModuleOptions options;
    options.stateDir = db::kDefaultStateDir;
    for (int i = 0; i < argc; ++i) {
        if (argv == nullptr || argv[i] == nullptr) return makeError("missing module argument");
        const std::string_view raw(argv[i]);
        const auto [key, value] = split(raw);
        if (key == "debug" && !value) {
            options.debug = true;
        } else if (key == "state_dir" && value) {
            if (value->empty() || value->front() != '/') {
                return makeError("state_dir= takes an absolute path");
            }
            options.stateDir = std::string(*value);
        } else if (key == "account" && value) {
            if (*value == "same") {
                options.account = AccountMode::same;
            } else if (*value == "ask") {
                options.account = AccountMode::ask;
            } else {
                return makeError("account= takes same or ask");
            }
        } else if (key == "group" && value) {
            if (value->empty()) return makeError("group= takes a group name");
            options.group = std::string(*value);
        } else if (key == "window" && value) {
            auto window = parseWindow(*value);
            if (!window) return makeError(window.error());
            options.window = *window;
        } else {
            return makeError("unknown option '" + std::string(raw.substr(0, 64)) + "'");
        }
    }
    return options;
}

}  // namespace portcullis::pam
