#include "admin_cli/audit_types.hpp"

#include <algorithm>
#include <array>

#include "admin_cli/cli_error.hpp"

namespace portcullis::cli {
namespace {

// Grouped as the help shows them; keep in step with the code that writes them
// (gateway/, db/otp_guard, pam_module/, admin_cli/) and docs/operator-guide.md.
constexpr std::array kTypes = std::to_array<AuditType>({
    {"auth.publickey", "a key offered with a signature: registered to the account or not"},
    {"auth.totp", "a verification code checked (reason: bad_code, replayed, locked, ...)"},
    {"auth.recovery", "a recovery code accepted instead of a TOTP code"},
    {"auth.password", "a password attempt (never succeeds)"},
    {"auth.hostbased", "a host-based attempt (never succeeds)"},
    {"auth.gssapi", "a GSSAPI attempt (never succeeds)"},
    {"auth.other", "another authentication method (never succeeds)"},
    {"account.locked", "an account locked out after consecutive failed codes"},
    {"source.throttled", "a source backed off after failed codes"},
    {"pam.auth", "a decision of the PAM module"},
    {"policy.decision", "a request allowed or denied, with its grant or reasons"},
    {"session.start", "a session began"},
    {"session.end", "a session ended (status, reason, bytes)"},
    {"session.expired", "a session closed at its time limit or its window's end"},
    {"session.idle", "a session closed for lack of input"},
    {"session.kill", "a session ended by an administrator"},
    {"session.revoked", "a session ended because its grant went away"},
    {"session.recheck_failed", "a session ended because its access could not be re-checked"},
    {"session.regranted", "a live session continued under another grant"},
    {"session.recording", "a recording sealed (size and SHA-256)"},
    {"session.pruned", "sessions and their recordings deleted by `session prune`"},
    {"session.reveal", "hidden input of a recording shown by `session reveal`"},
    {"recording.checkpoint", "size and SHA-256 of a recording while it is written"},
    {"recording.failed", "a recording could not be written (the channel ended)"},
    {"recording.unsealed", "a recording a crash left unsealed, reported at start-up"},
    {"connection.unused", "an authenticated connection closed for opening no channel"},
    {"connection.revoked", "a connection closed because its access went away"},
    {"connection.recheck_failed",
     "a connection closed because its access could not be "
     "re-checked"},
    {"flow.window_violation", "a peer sent beyond the SSH window it was granted"},
    {"forward.open", "a port forward opened"},
    {"forward.close", "a port forward closed (bytes each way)"},
    {"forward.refused", "a port forward refused"},
    {"sftp.open", "an SFTP file opened (flags)"},
    {"sftp.close", "an SFTP file closed (bytes read and written)"},
    {"sftp.remove", "an SFTP file removed"},
    {"sftp.rename", "an SFTP file renamed"},
    {"sftp.link", "an SFTP hard link made"},
    {"sftp.symlink", "an SFTP symbolic link made"},
    {"sftp.mkdir", "an SFTP directory made"},
    {"sftp.rmdir", "an SFTP directory removed"},
    {"sftp.setstat", "SFTP file attributes changed"},
    {"sftp.fsetstat", "SFTP attributes of an open file changed"},
    {"gateway.command", "a built-in gateway command run over ssh (targets, ...)"},
    {"gateway.config_reloaded", "portcullisd reloaded its configuration"},
    {"audit.syslog_dropped", "syslog copies of audit events that could not be sent"},
    {"admin.init", "the store initialised"},
    {"admin.user.add", "an account added"},
    {"admin.user.disable", "an account disabled"},
    {"admin.user.enable", "an account enabled"},
    {"admin.user.remove", "an account removed"},
    {"admin.user.unlock", "a lock-out cleared"},
    {"admin.user.key.add", "a public key registered"},
    {"admin.user.key.remove", "a public key unregistered"},
    {"admin.user.totp.enroll", "a TOTP secret enrolled"},
    {"admin.user.totp.reset", "a TOTP secret removed"},
    {"admin.group.add", "a group added"},
    {"admin.group.remove", "a group removed"},
    {"admin.group.member.add", "an account added to a group"},
    {"admin.group.member.remove", "an account taken out of a group"},
    {"admin.target.add", "a target added with its pinned host key"},
    {"admin.target.remove", "a target removed"},
    {"admin.grant.add", "a grant given"},
    {"admin.grant.revoke", "a grant revoked"},
    {"admin.throttle.clear", "source throttles cleared"},
});

bool startsWith(std::string_view text, std::string_view prefix) {
    return text.substr(0, prefix.size()) == prefix;
}

// The family of a type ("session" of "session.start"): what a typo most
// likely meant.
std::string_view family(std::string_view type) {
    return type.substr(0, type.find('.'));
}

}  // namespace

std::span<const AuditType> auditTypes() {
    return kTypes;
}

void requireKnownAuditType(const std::string& type, const std::vector<std::string>& stored) {
    std::vector<std::string> known;
    for (const auto& t : kTypes) known.emplace_back(t.name);
    known.insert(known.end(), stored.begin(), stored.end());
    const bool prefix = type.ends_with('*') || type.ends_with('.');
    const std::string_view wanted =
        type.ends_with('*') ? std::string_view(type).substr(0, type.size() - 1) : type;
    const bool found = std::any_of(known.begin(), known.end(), [&](const std::string& k) {
        return prefix ? startsWith(k, wanted) : k == wanted;
    });
    if (found) return;
    std::string near;
    for (const auto& t : kTypes) {
        if (family(t.name) == family(wanted)) {
            near += (near.empty() ? "" : ", ") + std::string(t.name);
        }
    }
    if (near.empty()) {
        // No family of that name: name the families.
        std::vector<std::string_view> families;
        for (const auto& t : kTypes) {
            if (std::find(families.begin(), families.end(), family(t.name)) == families.end()) {
                families.push_back(family(t.name));
            }
        }
        for (const auto f : families) near += (near.empty() ? "" : ", ") + std::string(f) + ".*";
    }
    throw UsageError("--type: no event type " + type + " (types like it: " + near +
                     "; a prefix ending in . or * selects a family)");
}

void printAuditTypes(std::ostream& out) {
    out << "\nEvent types (--type T, or a family such as session.* or admin.):\n";
    std::size_t width = 0;
    for (const auto& t : kTypes) width = std::max(width, t.name.size());
    for (const auto& t : kTypes) {
        out << "  " << t.name << std::string(width - t.name.size() + 2, ' ') << t.summary << '\n';
    }
}

}  // namespace portcullis::cli
