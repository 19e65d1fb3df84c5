#include "recording/recording_meta.hpp"

#include "recording/utf8_text.hpp"

namespace portcullis::recording {

namespace {

// Header strings can come from the client (an exec command, TERM): JSON needs
// valid UTF-8, and nlohmann would throw on anything else.
std::string text(const std::string& s) {
    return detail::toValidUtf8(s);
}

template <class T>
void readInto(const nlohmann::json& object, const char* key, T& into) {
    const auto it = object.find(key);
    if (it == object.end()) return;
    if constexpr (std::is_same_v<T, std::string>) {
        if (it->is_string()) into = it->template get<std::string>();
    } else {
        if (it->is_number_integer()) into = it->template get<T>();
    }
}

}  // namespace

nlohmann::json headerJson(const RecordingMeta& meta) {
    nlohmann::json header = {
        {"version", 2},
        {"width", meta.width},
        {"height", meta.height},
        {"timestamp", meta.startedAtUnix},
        {"env", nlohmann::json::object()},
        {"title", text(meta.title)},
    };
    if (!meta.term.empty()) header["env"]["TERM"] = text(meta.term);
    if (meta.command) header["command"] = text(*meta.command);
    header["portcullis"] = {
        {"session", text(meta.sessionId)},
        {"channel", meta.channel},
        {"account", text(meta.account)},
        {"login", text(meta.login)},
        {"target", text(meta.target)},
        {"source", text(meta.source)},
        {"grant", meta.grantId ? nlohmann::json(*meta.grantId) : nlohmann::json(nullptr)},
        {"kind", text(meta.kind)},
    };
    return header;
}

RecordingMeta metaFromHeader(const nlohmann::json& header) {
    RecordingMeta meta;
    if (!header.is_object()) return meta;
    readInto(header, "width", meta.width);
    readInto(header, "height", meta.height);
    readInto(header, "timestamp", meta.startedAtUnix);
    readInto(header, "title", meta.title);
    if (const auto it = header.find("command"); it != header.end() && it->is_string()) {
        meta.command = it->get<std::string>();
    }
    if (const auto env = header.find("env"); env != header.end() && env->is_object()) {
        readInto(*env, "TERM", meta.term);
    }
    const auto p = header.find("portcullis");
    if (p == header.end() || !p->is_object()) return meta;
    readInto(*p, "session", meta.sessionId);
    readInto(*p, "channel", meta.channel);
    readInto(*p, "account", meta.account);
    readInto(*p, "login", meta.login);
    readInto(*p, "target", meta.target);
    readInto(*p, "source", meta.source);
    readInto(*p, "kind", meta.kind);
    if (const auto grant = p->find("grant"); grant != p->end() && grant->is_number_integer()) {
        meta.grantId = grant->get<std::int64_t>();
    }
    return meta;
}

}  // namespace portcullis::recording
