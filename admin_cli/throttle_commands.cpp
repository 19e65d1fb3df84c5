// portcullis throttle ...: the source throttles that failed codes build up
// (issue 12, finding 3): per gateway address and per PAM service + tty/rhost.
#include <iostream>

#include "admin_cli/cli_error.hpp"
#include "admin_cli/command.hpp"
#include "admin_cli/output.hpp"
#include "admin_cli/store.hpp"
#include "db/source_throttles.hpp"

namespace portcullis::cli {
namespace {

using nlohmann::json;

// The store's default rules: portcullisd's [lockout] settings may differ.
const db::SourceRules kRules{};

json throttleJson(const db::SourceThrottle& t, TimePoint now) {
    return {{"source", t.source},
            {"failures", t.failures},
            {"unproven_failures", t.unproven},
            {"window_until", isoTimeOrNull(t.windowEnd(now, kRules))},
            {"throttled_until", isoTimeOrNull(t.refusedUntil(now, kRules))},
            {"last_failure", isoTimeOrNull(t.lastFailure)},
            {"accounts", t.accounts}};
}

int throttleList(Invocation& inv) {
    Store store(inv.globals());
    const TimePoint now = systemNow();
    const auto throttles = db::SourceThrottles(store.db(), kRules).list(now);
    if (inv.json()) {
        json out = json::array();
        for (const auto& t : throttles) out.push_back(throttleJson(t, now));
        printJson(out);
        return kExitOk;
    }
    Table table({"SOURCE", "FAILURES", "REFUSED UNTIL", "WINDOW UNTIL", "ACCOUNTS"});
    for (const auto& t : throttles) {
        std::string failures = std::to_string(t.failures);
        if (t.unproven > 0) failures += " (" + std::to_string(t.unproven) + " in a row at PAM)";
        table.addRow({t.source, failures, isoTimeOr(t.refusedUntil(now, kRules), "-"),
                      isoTimeOr(t.windowEnd(now, kRules), "-"),
                      orDash(joinList(t.accounts, ", "))});
    }
    table.print(std::cout, "no source is throttled");
    return kExitOk;
}

int throttleClear(Invocation& inv) {
    const auto source = inv.optionalArg(0);
    if (source && source->empty())
        throw UsageError("SOURCE: give a source as `throttle list` shows it");
    Store store(inv.globals(), Store::Access::change);
    db::SourceThrottles throttles(store.db(), kRules);
    std::vector<std::string> cleared;
    if (source) {
        if (!throttles.clear(*source)) {
            throw Failure("no throttle for source " + *source +
                          " (see `portcullis throttle list`)");
        }
        cleared.push_back(*source);
    } else {
        cleared = throttles.clearAll();
    }
    store.recordChange("admin.throttle.clear",
                       {{"source", source ? json(*source) : json("all")}, {"cleared", cleared}});
    if (inv.json()) {
        printJson({{"cleared", cleared}});
    } else if (cleared.empty()) {
        std::cout << "no source was throttled\n";
    } else {
        std::cout << "cleared the throttle of " << joinList(cleared, ", ") << '\n';
    }
    return kExitOk;
}

}  // namespace

std::vector<CommandSpec> throttleCommands() {
    return {
        {.path = "throttle list",
         .usage = "",
         .summary = "sources slowed down or refused after failed codes (gateway addresses, PAM "
                    "service + tty/rhost), with the accounts tried",
         .run = throttleList},
        {.path = "throttle clear",
         .usage = "[SOURCE]",
         .summary = "clear one source's throttle (exit 1 if it has none), or every one",
         .run = throttleClear,
         .maxArgs = 1},
    };
}

}  // namespace portcullis::cli
