#include "admin_cli/grant_cleanup.hpp"

#include <vector>

#include "admin_cli/operator_name.hpp"
#include "admin_cli/output.hpp"
#include "db/grants.hpp"

namespace portcullis::cli {
namespace {

nlohmann::json audit(Store& store, const std::vector<db::Grant>& revoked, const std::string& why) {
    nlohmann::json ids = nlohmann::json::array();
    for (const auto& g : revoked) {
        store.recordAlso("admin.grant.revoke", {{"grant_id", g.id},
                                                {"subject", g.subject},
                                                {"target", g.targetPattern},
                                                {"reason", why}});
        ids.push_back(g.id);
    }
    return ids;
}

}  // namespace

nlohmann::json revokeGrantsOfSubject(Store& store, const std::string& subject,
                                     const std::string& why) {
    return audit(
        store, db::Grants(store.db()).revokeForSubject(subject, operatorName(), systemNow()), why);
}

nlohmann::json revokeGrantsOfTarget(Store& store, const std::string& target,
                                    const std::string& why) {
    return audit(store, db::Grants(store.db()).revokeForTarget(target, operatorName(), systemNow()),
                 why);
}

std::string grantIdList(const nlohmann::json& ids) {
    std::string out;
    for (const auto& id : ids) {
        out += (out.empty() ? "#" : ", #") + std::to_string(id.get<std::int64_t>());
    }
    return out;
}

}  // namespace portcullis::cli
