#pragma once
// portcullisd configuration: defaults as named constants, an INI file
// (--config) that may override them, and the command-line flags on top.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include "common/result.hpp"
#include "common/time_format.hpp"
#include "db/otp_guard.hpp"
#include "db/policy.hpp"
#include "gateway/secret_prompt.hpp"

namespace portcullis::gateway {

enum class LogLevel { debug, info, warn, error };
Result<LogLevel> parseLogLevel(std::string_view text);
const char* logLevelName(LogLevel level);

// Defaults (OpenSSH's where it has one).
inline constexpr const char* kDefaultListen = "0.0.0.0:2222";
// Unlocking a phone and waiting for a fresh code takes longer than 30 s.
inline constexpr Seconds kDefaultLoginGraceTime{60};
inline constexpr int kDefaultMaxAuthTries = 6;
inline constexpr int kDefaultMaxStartups = 100;          // pre-auth connections, all sources
inline constexpr int kDefaultMaxStartupsPerSource = 10;  // pre-auth connections, one address
inline constexpr int kDefaultMaxChannels = 10;           // session channels per connection
inline constexpr Seconds kDefaultUpstreamTimeout{15};    // TCP connect + SSH handshake + auth
inline constexpr std::chrono::milliseconds kDefaultAuthFailureDelay{250};
inline constexpr std::size_t kDefaultBufferHigh = 1024 * 1024;  // per channel direction
inline constexpr std::size_t kMinBufferHigh = 64 * 1024;
inline constexpr std::size_t kMaxBufferHigh = 4 * 1024 * 1024;
inline constexpr int kDefaultDbWorkers = 2;
inline constexpr Seconds kDrainTimeout{5};  // SIGTERM: time to say goodbye
// Live sessions re-evaluate their policy decision at least this often (SPEC §5:
// a revoked or expired grant ends them within one minute).
inline constexpr Seconds kDefaultRecheckInterval{30};
inline constexpr Seconds kMaxRecheckInterval{30};
// An authenticated connection with no open channel is closed after this
// (OpenSSH's UnusedConnectionTimeout): one code does not keep a parked
// ControlMaster connection alive for days.
inline constexpr Seconds kDefaultUnusedConnectionTimeout{15 * 60};
// The chain's head goes to syslog this often (SPEC §15), and dropped syslog
// copies are reported this often.
inline constexpr Seconds kCheckpointInterval{5 * 60};
inline constexpr Seconds kSyslogReportInterval{10};
// How fresh `session list --active` figures (bytes, idle time) are at most.
inline constexpr Seconds kLivePublishInterval{5};

inline constexpr const char* kDefaultKex = "curve25519-sha256,curve25519-sha256@libssh.org";
inline constexpr const char* kDefaultHostKeyAlgorithms = "ssh-ed25519";
// The AEAD ciphers first; aes*-ctr (always with an encrypt-then-MAC) for
// clients without them (paramiko 2.12: Fabric, Ansible, Netmiko).
inline constexpr const char* kDefaultCiphers =
    "aes256-gcm@openssh.com,aes128-gcm@openssh.com,chacha20-poly1305@openssh.com,aes256-ctr,"
    "aes128-ctr";
inline constexpr const char* kDefaultMacs =
    "hmac-sha2-256-etm@openssh.com,hmac-sha2-512-etm@openssh.com";
inline constexpr const char* kServerBanner = "Portcullis";

// [recording] input: what of a terminal channel's input the recording keeps.
enum class RecordingInput {
    all,            // everything in clear
    sealedSecrets,  // input at a password-like prompt sealed under master.key (default)
    none,           // no input at all (output is still recorded)
};
Result<RecordingInput> parseRecordingInput(std::string_view text);

struct RecordingConfig {
    RecordingInput input = RecordingInput::sealedSecrets;
    // `secret_prompts`, compiled (shared by the connections using this configuration).
    std::shared_ptr<const SecretPromptPattern> secretPrompts = defaultSecretPrompts();
    static std::shared_ptr<const SecretPromptPattern> defaultSecretPrompts();
};

struct Config {
    // [server]
    std::string listenAddress = "0.0.0.0";
    std::uint16_t listenPort = 2222;
    int threads = 0;  // 0: one per core
    LogLevel logLevel = LogLevel::info;
    int dbWorkers = kDefaultDbWorkers;
    std::filesystem::path syslogSocket = "/dev/log";  // where the SIEM copies go
    // [limits]
    Seconds loginGraceTime = kDefaultLoginGraceTime;
    int maxAuthTries = kDefaultMaxAuthTries;
    int maxStartups = kDefaultMaxStartups;
    int maxStartupsPerSource = kDefaultMaxStartupsPerSource;
    int maxChannels = kDefaultMaxChannels;
    Seconds upstreamTimeout = kDefaultUpstreamTimeout;
    std::chrono::milliseconds authFailureDelay = kDefaultAuthFailureDelay;
    std::size_t bufferHigh = kDefaultBufferHigh;
    db::LimitCeiling ceiling;  // max_session / idle_timeout ceilings
    Seconds recheckInterval = kDefaultRecheckInterval;
    Seconds unusedConnectionTimeout = kDefaultUnusedConnectionTimeout;
    // [lockout]
    db::GuardConfig guard;
    // [algorithms]
    std::string kex = kDefaultKex;
    std::string hostKeyAlgorithms = kDefaultHostKeyAlgorithms;
    std::string ciphers = kDefaultCiphers;
    std::string macs = kDefaultMacs;
    // [recording]
    RecordingConfig recording;

    // Overrides from an INI file; a bad line or unknown key is refused with its line number.
    Result<void> loadFile(const std::filesystem::path& file);
    Result<void> setListen(std::string_view text);  // ADDR:PORT or [V6]:PORT
    Result<void> validate() const;
};

}  // namespace portcullis::gateway
