#include "admin_cli/command.hpp"

namespace portcullis::cli {

std::optional<std::string> Invocation::option(const std::string& name) const {
    if (!flags_ || flags_->count(name) == 0) return std::nullopt;
    return (*flags_)[name].as<std::string>();
}

std::vector<std::string> Invocation::options(const std::string& name) const {
    if (!flags_ || flags_->count(name) == 0) return {};
    return (*flags_)[name].as<std::vector<std::string>>();
}

std::string Invocation::optionOr(const std::string& name) const {
    if (!flags_) return {};
    const auto& value = (*flags_)[name];
    return value.count() || value.has_default() ? value.as<std::string>() : std::string{};
}

bool Invocation::flag(const std::string& name) const {
    return flags_ && flags_->count(name) > 0 && (*flags_)[name].as<bool>();
}

std::string Invocation::commandLine() const {
    return "portcullis " + std::string(spec_.path);
}

}  // namespace portcullis::cli
