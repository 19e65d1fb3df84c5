#include "gateway/config.hpp"

#include <charconv>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>
#include <stdexcept>

namespace portcullis::gateway {
namespace {

std::string_view trim(std::string_view s) {
    const auto first = s.find_first_not_of(" \t\r");
    if (first == std::string_view::npos) return {};
    const auto last = s.find_last_not_of(" \t\r");
    return s.substr(first, last - first + 1);
}

Result<long long> parseInt(std::string_view text, long long min, long long max) {
    long long v = 0;
    const auto* end = text.data() + text.size();
    const auto [p, ec] = std::from_chars(text.data(), end, v);
    if (ec != std::errc() || p != end)
        return makeError("not a number: \"" + std::string(text) + "\"");
    if (v < min || v > max) {
        return makeError("out of range " + std::to_string(min) + ".." + std::to_string(max));
    }
    return v;
}

// Every name in `list` must be one of `allowed`; the list keeps its order.
Result<void> checkSubset(std::string_view list, const std::set<std::string>& allowed) {
    if (list.empty()) return makeError("empty algorithm list");
    std::string item;
    std::stringstream in{std::string(list)};
    while (std::getline(in, item, ',')) {
        const auto name = std::string(trim(item));
        if (!allowed.count(name)) {
            std::string all;
            for (const auto& a : allowed) all += (all.empty() ? "" : ",") + a;
            return makeError("algorithm \"" + name + "\" is not allowed (allowed: " + all + ")");
        }
    }
    return {};
}

const std::set<std::string> kAllowedKex{"curve25519-sha256", "curve25519-sha256@libssh.org"};
const std::set<std::string> kAllowedHostKey{"ssh-ed25519"};
// aes*-ctr is offered only with the encrypt-then-MAC MACs below (ssh-audit rates them clean).
const std::set<std::string> kAllowedCiphers{"aes256-gcm@openssh.com", "aes128-gcm@openssh.com",
                                            "chacha20-poly1305@openssh.com", "aes256-ctr",
                                            "aes128-ctr"};
const std::set<std::string> kAllowedMacs{"hmac-sha2-256-etm@openssh.com",
                                         "hmac-sha2-512-etm@openssh.com"};

}  // namespace

Result<LogLevel> parseLogLevel(std::string_view text) {
    if (text == "debug") return LogLevel::debug;
    if (text == "info") return LogLevel::info;
    if (text == "warn" || text == "warning") return LogLevel::warn;
    if (text == "error") return LogLevel::error;
    return makeError("unknown log level \"" + std::string(text) + "\" (debug, info, warn, error)");
}

const char* logLevelName(LogLevel level) {
    switch (level) {
        case LogLevel::debug:
            return "debug";
        case LogLevel::info:
            return "info";
        case LogLevel::warn:
            return "warn";
        case LogLevel::error:
            return "error";
    }
    return "info";
}

Result<RecordingInput> parseRecordingInput(std::string_view text) {
    if (text == "all") return RecordingInput::all;
    if (text == "sealed-secrets") return RecordingInput::sealedSecrets;
    if (text == "none") return RecordingInput::none;
    return makeError("unknown input mode \"" + std::string(text) +
                     "\" (all, sealed-secrets, none)");
}

std::shared_ptr<const SecretPromptPattern> RecordingConfig::defaultSecretPrompts() {
    auto compiled = SecretPromptPattern::compile(kDefaultSecretPrompts);
    if (!compiled) throw std::logic_error("the default secret_prompts does not compile");
    return std::move(compiled).value();
}

Result<void> Config::setListen(std::string_view text) {
    std::string_view host;
    std::string_view port;
    if (!text.empty() && text.front() == '[') {
        const auto close = text.find(']');
        if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
            return makeError("bad listen address \"" + std::string(text) + "\" (want [ADDR]:PORT)");
        }
        host = text.substr(1, close - 1);
        port = text.substr(close + 2);
    } else {
        const auto colon = text.rfind(':');
        if (colon == std::string_view::npos) {
            return makeError("bad listen address \"" + std::string(text) + "\" (want ADDR:PORT)");
        }
        host = text.substr(0, colon);
        port = text.substr(colon + 1);
    }
    auto p = parseInt(port, 1, 65535);
    if (!p) return makeError("bad listen port: " + p.error());
    if (host.empty()) return makeError("bad listen address: empty host");
    listenAddress = std::string(host);
    listenPort = static_cast<std::uint16_t>(*p);
    return {};
}

Result<void> Config::loadFile(const std::filesystem::path& file) {
    std::ifstream in(file);
    if (!in) return makeError("cannot read config file " + file.string());

    using Setter = std::function<Result<void>(std::string_view)>;
    auto intSetter = [](auto& field, long long min, long long max) -> Setter {
        return [&field, min, max](std::string_view v) -> Result<void> {
            auto n = parseInt(v, min, max);
            if (!n) return makeError(n.error());
            field = static_cast<std::remove_reference_t<decltype(field)>>(*n);
            return {};
        };
    };
    // A zero limit, lock-out or window would switch its control off (SPEC §10): refused.
    auto positiveDuration = [](std::string_view v) -> Result<Seconds> {
        auto d = parseDuration(v);
        if (!d) return makeError(d.error());
        if (d->count() <= 0)
            return makeError("must be more than 0s (a zero value would switch this control off)");
        return *d;
    };
    auto durSetter = [positiveDuration](Seconds& field) -> Setter {
        return [&field, positiveDuration](std::string_view v) -> Result<void> {
            auto d = positiveDuration(v);
            if (!d) return makeError(d.error());
            field = *d;
            return {};
        };
    };
    auto optDurSetter = [positiveDuration](std::optional<Seconds>& field) -> Setter {
        return [&field, positiveDuration](std::string_view v) -> Result<void> {
            auto d = positiveDuration(v);
            if (!d) return makeError(d.error());
            field = *d;
            return {};
        };
    };
    auto algSetter = [](std::string& field, const std::set<std::string>& allowed) -> Setter {
        return [&field, &allowed](std::string_view v) -> Result<void> {
            if (auto ok = checkSubset(v, allowed); !ok) return ok;
            field = std::string(v);
            return {};
        };
    };
    long long delayMs = authFailureDelay.count();
    long long high = static_cast<long long>(bufferHigh);
    const std::map<std::string, Setter> setters{
        {"server.listen", [this](std::string_view v) { return setListen(v); }},
        {"server.threads", intSetter(threads, 0, 256)},
        {"server.log_level",
         [this](std::string_view v) -> Result<void> {
             auto l = parseLogLevel(v);
             if (!l) return makeError(l.error());
             logLevel = *l;
             return {};
         }},
        {"server.db_workers", intSetter(dbWorkers, 1, 16)},
        {"server.syslog_socket",
         [this](std::string_view v) -> Result<void> {
             if (v.empty() || v.front() != '/')
                 return makeError("must be an absolute path (the local syslog socket)");
             syslogSocket = std::string(v);
             return {};
         }},
        {"limits.login_grace_time", durSetter(loginGraceTime)},
        {"limits.max_auth_tries", intSetter(maxAuthTries, 1, 100)},
        {"limits.max_startups", intSetter(maxStartups, 1, 100000)},
        {"limits.max_startups_per_source", intSetter(maxStartupsPerSource, 1, 100000)},
        {"limits.max_channels", intSetter(maxChannels, 1, 100)},
        {"limits.upstream_timeout", durSetter(upstreamTimeout)},
        {"limits.auth_failure_delay_ms", intSetter(delayMs, 1, 10000)},
        {"limits.buffer_high_watermark", intSetter(high, static_cast<long long>(kMinBufferHigh),
                                                   static_cast<long long>(kMaxBufferHigh))},
        {"limits.max_session", optDurSetter(ceiling.maxSession)},
        {"limits.idle_timeout", optDurSetter(ceiling.idleTimeout)},
        {"limits.recheck_interval", durSetter(recheckInterval)},
        {"limits.unused_connection_timeout", durSetter(unusedConnectionTimeout)},
        {"lockout.max_failures", intSetter(guard.maxFailures, 1, 1000)},
        {"lockout.lockout", durSetter(guard.lockout)},
        {"lockout.max_source_failures", intSetter(guard.maxSourceFailures, 1, 100000)},
        {"lockout.source_window", durSetter(guard.sourceWindow)},
        {"lockout.totp_window", intSetter(guard.totp.window, 0, 10)},
        {"algorithms.kex", algSetter(kex, kAllowedKex)},
        {"algorithms.hostkey", algSetter(hostKeyAlgorithms, kAllowedHostKey)},
        {"algorithms.ciphers", algSetter(ciphers, kAllowedCiphers)},
        {"algorithms.macs", algSetter(macs, kAllowedMacs)},
        {"recording.input",
         [this](std::string_view v) -> Result<void> {
             auto mode = parseRecordingInput(v);
             if (!mode) return makeError(mode.error());
             recording.input = *mode;
             return {};
         }},
        {"recording.secret_prompts",
         [this](std::string_view v) -> Result<void> {
             auto compiled = SecretPromptPattern::compile(std::string(v));
             if (!compiled) return makeError(compiled.error());
             recording.secretPrompts = std::move(compiled).value();
             return {};
         }},
    };

    std::string section;
    std::string line;
    int lineNo = 0;
    auto bad = [&](const std::string& why) {
        return makeError(file.string() + ":" + std::to_string(lineNo) + ": " + why);
    };
    while (std::getline(in, line)) {
        ++lineNo;
        const auto text = trim(line);
        if (text.empty() || text.front() == '#' || text.front() == ';') continue;
        if (text.front() == '[') {
            if (text.back() != ']') return bad("unterminated section header");
            section = std::string(trim(text.substr(1, text.size() - 2)));
            if (section != "server" && section != "limits" && section != "lockout" &&
                section != "algorithms" && section != "recording") {
                return bad("unknown section [" + section + "]");
            }
            continue;
        }
        const auto eq = text.find('=');
        if (eq == std::string_view::npos) return bad("expected KEY = VALUE");
        if (section.empty()) return bad("key outside of a section");
        const auto key = std::string(trim(text.substr(0, eq)));
        auto value = trim(text.substr(eq + 1));
        // An inline comment starts at " #" or " ;" (no value contains either).
        for (std::size_t i = 1; i < value.size(); ++i) {
            if ((value[i] == '#' || value[i] == ';') &&
                (value[i - 1] == ' ' || value[i - 1] == '\t')) {
                value = trim(value.substr(0, i));
                break;
            }
        }
        const auto it = setters.find(section + "." + key);
        if (it == setters.end()) return bad("unknown key \"" + key + "\" in [" + section + "]");
        if (auto ok = it->second(value); !ok) return bad(key + ": " + ok.error());
    }
    authFailureDelay = std::chrono::milliseconds(delayMs);
    bufferHigh = static_cast<std::size_t>(high);
    return validate();
}

Result<void> Config::validate() const {
    if (loginGraceTime.count() < 1) return makeError("login_grace_time must be at least 1s");
    if (upstreamTimeout.count() < 1) return makeError("upstream_timeout must be at least 1s");
    if (recheckInterval.count() < 1 || recheckInterval > kMaxRecheckInterval) {
        return makeError("recheck_interval must be between 1s and 30s");
    }
    if (maxStartupsPerSource > maxStartups) {
        return makeError("max_startups_per_source must not exceed max_startups");
    }
    for (const auto& [list, allowed] :
         {std::pair{&kex, &kAllowedKex}, std::pair{&hostKeyAlgorithms, &kAllowedHostKey},
          std::pair{&ciphers, &kAllowedCiphers}, std::pair{&macs, &kAllowedMacs}}) {
        if (auto ok = checkSubset(*list, *allowed); !ok) return ok;
    }
    return {};
}

}  // namespace portcullis::gateway
