#include "admin_cli/host_key_scan.hpp"

#include "common/ssh_handles.hpp"

namespace portcullis::cli {
namespace {

constexpr const char* kHostKeyAlgorithms =
    "ssh-ed25519,ecdsa-sha2-nistp256,rsa-sha2-512,rsa-sha2-256";

std::string where(const std::string& host, int port) {
    return host + " port " + std::to_string(port);
}

}  // namespace

Result<SshPublicKey> scanHostKey(const std::string& host, int port, std::chrono::seconds timeout) {
    SessionPtr session(ssh_new());
    if (!session) return makeError("cannot start an SSH client (out of memory)");
    const bool processConfig = false;
    const long timeoutSeconds = static_cast<long>(timeout.count());
    const int verbosity = SSH_LOG_NOLOG;
    if (ssh_options_set(session.get(), SSH_OPTIONS_HOST, host.c_str()) != SSH_OK ||
        ssh_options_set(session.get(), SSH_OPTIONS_PORT, &port) != SSH_OK ||
        ssh_options_set(session.get(), SSH_OPTIONS_PROCESS_CONFIG, &processConfig) != SSH_OK ||
        ssh_options_set(session.get(), SSH_OPTIONS_HOSTKEYS, kHostKeyAlgorithms) != SSH_OK ||
        ssh_options_set(session.get(), SSH_OPTIONS_TIMEOUT, &timeoutSeconds) != SSH_OK ||
        ssh_options_set(session.get(), SSH_OPTIONS_LOG_VERBOSITY, &verbosity) != SSH_OK) {
        return makeError("cannot set up the SSH client for " + where(host, port) + ": " +
                         ssh_get_error(session.get()));
    }
    if (ssh_connect(session.get()) != SSH_OK) {
        return makeError("cannot reach an SSH server at " + where(host, port) + ": " +
                         ssh_get_error(session.get()));
    }
    ssh_key rawKey = nullptr;
    if (ssh_get_server_publickey(session.get(), &rawKey) != SSH_OK) {
        return makeError("no host key from " + where(host, port) + ": " +
                         ssh_get_error(session.get()));
    }
    KeyPtr key(rawKey);
    char* rawBase64 = nullptr;
    if (ssh_pki_export_pubkey_base64(key.get(), &rawBase64) != SSH_OK) {
        return makeError("cannot read the host key of " + where(host, port));
    }
    CStringPtr base64(rawBase64);
    const char* type = ssh_key_type_to_char(ssh_key_type(key.get()));
    auto parsed =
        SshPublicKey::parseLine(std::string(type ? type : "unknown") + " " + base64.get());
    if (!parsed) {
        return makeError("the host key of " + where(host, port) +
                         " is not usable: " + parsed.error());
    }
    return parsed;
}

}  // namespace portcullis::cli
