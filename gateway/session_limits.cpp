#include "gateway/session_limits.hpp"

#include <algorithm>
#include <string_view>
#include <utility>

namespace portcullis::gateway {
namespace {

// "grant #6 expires" -> "grant #6 expired", "the window ... closes" -> "... closed".
std::string pastTense(const std::string& cause) {
    for (const auto& [now, past] : {std::pair{" closes", " closed"}, {" expires", " expired"}}) {
        const std::string_view suffix(now);
        if (cause.size() > suffix.size() &&
            cause.compare(cause.size() - suffix.size(), std::string::npos, suffix) == 0) {
            return cause.substr(0, cause.size() - suffix.size()) + past;
        }
    }
    return cause;
}

}  // namespace

bool SessionLimits::adopt(const db::Decision& decision) {
    if (decision.grantId == grantId_ && decision.maxSession == maxSession_ &&
        decision.idleTimeout == idleTimeout_ && decision.endsBy == endsBy_) {
        return false;
    }
    grantId_ = decision.grantId;
    maxSession_ = decision.maxSession;
    idleTimeout_ = decision.idleTimeout;
    endsBy_ = decision.endsBy;
    endsByCause_ = decision.endsByCause;
    noticesSent_ = 0;  // a new end gets its own notices
    return true;
}

void SessionLimits::start(Steady now) {
    startedAt_ = lastInput_ = now;
}

void SessionLimits::noteInput(std::uint64_t totalInput, Steady now) {
    if (totalInput != inputSeen_) {
        inputSeen_ = totalInput;
        lastInput_ = now;
    }
}

SessionLimits::Check SessionLimits::check(Steady now, TimePoint wallNow,
                                          std::chrono::seconds publishEvery) {
    Check result;
    // Until the time limit (from the start) or the grant's forced end,
    // whichever comes first: notices name the one that does.
    auto left = std::chrono::ceil<Seconds>(startedAt_ + maxSession_ - now);
    if (maxSession_.count() == 0) left = Seconds::max();
    bool forced = false;
    if (endsBy_) {
        const auto untilForced = std::chrono::ceil<Seconds>(*endsBy_ - wallNow);
        forced = untilForced < left;
        left = std::min(left, untilForced);
    }
    if (bounded()) {
        if (left.count() <= 0) {
            result.action = Check::Action::expired;
            result.text = forced ? pastTense(endsByCause_) : "session time limit reached";
            return result;
        }
        const int due = left <= std::chrono::minutes(1)   ? 2
                        : left <= std::chrono::minutes(5) ? 1
                                                          : 0;
        if (due > noticesSent_) {
            noticesSent_ = due;
            result.action = Check::Action::notice;
            result.text = "this session ends in " + formatDuration(left) + " (" +
                          (forced ? endsByCause_ : std::string("time limit")) + ")";
        }
    }
    if (idleTimeout_.count() > 0 && now - lastInput_ >= idleTimeout_) {
        result.action = Check::Action::idle;
        result.text = "session idle for " + formatDuration(idleTimeout_);
        return result;
    }
    // Wake when something is due (a notice, the end, the idle deadline)
    // instead of ticking: idle sessions cost no CPU.
    auto next = now + publishEvery;
    if (bounded()) {
        // The exact end (left is rounded up to whole seconds for the text).
        auto exact = maxSession_.count() > 0 ? startedAt_ + maxSession_ - now
                                             : std::chrono::steady_clock::duration::max() / 2;
        if (endsBy_)
            exact = std::min<std::chrono::steady_clock::duration>(exact, *endsBy_ - wallNow);
        const auto endAt = now + exact;
        for (const auto mark :
             {endAt - std::chrono::minutes(5), endAt - std::chrono::minutes(1), endAt})
            if (mark > now) next = std::min(next, mark);
    }
    if (idleTimeout_.count() > 0) next = std::min(next, lastInput_ + idleTimeout_);
    result.nextCheck = std::max(next, now + std::chrono::milliseconds(20));
    return result;
}

SessionLimits::End SessionLimits::latestEnd(TimePoint startedAt) const {
    End end{startedAt + maxSession_, "time limit " + formatDuration(maxSession_)};
    if (endsBy_ && *endsBy_ < end.at) end = {*endsBy_, endsByCause_};
    return end;
}

}  // namespace portcullis::gateway
