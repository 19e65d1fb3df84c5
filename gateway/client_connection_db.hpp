#pragma once
// ClientConnection's store calls and posts (templates, shared by the files its
// parts live in; not for other users of ClientConnection).
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <chrono>
#include <memory>

#include "gateway/client_connection.hpp"

namespace portcullis::gateway {

// How long a store job on the login path (a factor, a decision, a command)
// may take before the attempt fails closed as "store unavailable".
inline constexpr auto kStoreDeadline = std::chrono::seconds(10);

template <class F>
void ClientConnection::post(F&& f) {
    boost::asio::post(strand_, std::forward<F>(f));
}

template <class R>
void ClientConnection::runDb(std::function<R(DbContext&)> job,
                             std::function<void(std::optional<R>)> done,
                             std::optional<StoreFailureAudit> ifFailed) {
    auto self = shared_from_this();
    // Whoever answers first (the job, or the deadline) answers alone.
    auto answered = std::make_shared<std::atomic<bool>>(false);
    auto deadline = std::make_shared<boost::asio::steady_timer>(strand_, kStoreDeadline);
    auto deliver = [self, done, deadline](std::optional<R> result) {
        boost::asio::post(self->strand_,
                          [self, done, deadline, result = std::move(result)]() mutable {
                              deadline->cancel();
                              if (self->phase_ == Phase::closed) return;
                              done(std::move(result));
                              self->step();
                          });
    };
    // The denied attempt goes into the chain through this connection's
    // sequence, which retries while the store is locked or full. Runs on a
    // store worker or the strand: it takes nothing from the connection but
    // its sequence.
    auto auditFailure = [self, ifFailed, account = auditName()](const std::string& error) {
        if (!ifFailed) return;
        auto details = ifFailed->details;
        details["result"] = "failure";
        details["reason"] = "store_unavailable";
        details["error"] = error;
        self->fireDb([type = ifFailed->type, account, peer = self->peer_,
                      details = std::move(details)](DbContext& ctx) {
            auditEvent(ctx, type, account, peer, details);
        });
    };
    // Every store job on the login path has a deadline (issue 13): a store
    // that does not answer (a queue behind a locked or failing store) fails
    // closed with the store-unavailable message instead of a hang.
    deadline->async_wait([self, done, answered, auditFailure](const boost::system::error_code& ec) {
        if (ec || answered->exchange(true)) return;
        self->log_.error("db.deadline",
                         {{"conn", self->id_}, {"after_s", formatDuration(kStoreDeadline)}});
        auditFailure("the store did not answer within " + formatDuration(kStoreDeadline));
        if (self->phase_ == Phase::closed) return;
        done(std::nullopt);
        self->step();
    });
    const bool queued =
        services_.db.submit([job, deliver, self, auditFailure, answered](DbContext& ctx) {
            // Past its deadline before it started: the user was refused, so
            // it must not act now (consume a code, count a failure).
            if (answered->load()) return;
            std::optional<R> result;
            std::string error;
            try {
                result = job(ctx);
            } catch (const std::exception& e) {
                self->log_.error("db.error", {{"conn", self->id_}, {"error", e.what()}});
                error = e.what();
            }
            if (answered->exchange(true)) return;  // the deadline answered already
            if (!result) auditFailure(error);
            deliver(std::move(result));
        });
    if (!queued && !answered->exchange(true)) {
        log_.error("db.queue_full", {{"conn", id_}});
        auditFailure("the store's queue is full");
        deliver(std::nullopt);
    }
}

}  // namespace portcullis::gateway
