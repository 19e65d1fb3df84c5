#pragma once
// The audit event types this version of Portcullis writes (the gateway, the
// PAM module, the CLI), for `audit list --type` and `audit tail --type`: a type
// or prefix that neither this list nor the store knows is a typo, refused
// (exit 2), and the commands' help lists them.
#include <ostream>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace portcullis::cli {

struct AuditType {
    std::string_view name;     // "session.start"
    std::string_view summary;  // one line
};

std::span<const AuditType> auditTypes();

// --type's value checked against auditTypes() and the types already in the
// store (a newer program's events stay listable): an exact type, or a prefix
// ending in '.' or '*' that starts one of them. A UsageError names the nearest
// types otherwise.
void requireKnownAuditType(const std::string& type, const std::vector<std::string>& stored);

// The list for --help: one line per type.
void printAuditTypes(std::ostream& out);

}  // namespace portcullis::cli
