#include "gateway/db_pool.hpp"

#include <chrono>
#include <exception>

#include "db/error.hpp"

namespace portcullis::gateway {

struct DbPool::Worker {
    Worker(db::Database database, const db::StateDir& dir, std::shared_ptr<db::SyslogSink> syslog)
        : db(std::move(database)), audit(db, &dir, std::move(syslog)) {}
    db::Database db;
    db::AuditLog audit;
    std::thread thread;
};

Result<std::unique_ptr<DbPool>> DbPool::start(const db::StateDir& dir, const db::MasterKey& key,
                                              const db::GuardConfig& guard, int workers,
                                              Logger& log, std::shared_ptr<db::SyslogSink> syslog) {
    auto pool = std::make_unique<DbPool>(dir, key, guard, log, std::move(syslog));
    for (int i = 0; i < workers; ++i) {
        auto database = db::Database::open(dir);
        if (!database) return makeError("cannot open the store: " + database.error());
        pool->workers_.push_back(
            std::make_unique<Worker>(std::move(database).value(), dir, pool->syslog_));
    }
    for (auto& w : pool->workers_) {
        Worker& worker = *w;
        worker.thread = std::thread([p = pool.get(), &worker] { p->run(worker); });
    }
    return pool;
}

DbPool::DbPool(const db::StateDir& dir, const db::MasterKey& key, const db::GuardConfig& guard,
               Logger& log, std::shared_ptr<db::SyslogSink> syslog)
    : dir_(dir), key_(key), guard_(guard), log_(log), syslog_(std::move(syslog)) {}

DbPool::~DbPool() {
    stop();
}

bool DbPool::submit(Job job) {
    {
        const std::lock_guard lock(mutex_);
        if (stopping_ || queue_.size() >= kMaxQueued) return false;
        queue_.push_back(std::move(job));
    }
    cv_.notify_one();
    return true;
}

void DbPool::stop() {
    {
        const std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    cv_.notify_all();
    for (auto& w : workers_) {
        if (w->thread.joinable()) w->thread.join();
    }
}

bool DbPool::stopping() {
    const std::lock_guard lock(mutex_);
    return stopping_;
}

void DbPool::setGuard(const db::GuardConfig& guard) {
    const std::lock_guard lock(mutex_);
    guard_ = guard;
}

void DbPool::run(Worker& worker) {
    while (true) {
        Job job;
        db::GuardConfig guard;
        {
            std::unique_lock lock(mutex_);
            cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
            // Drain what is queued even when stopping: those are audit events
            // and session ends of connections being closed.
            if (queue_.empty()) return;
            job = std::move(queue_.front());
            queue_.pop_front();
            guard = guard_;  // the configuration as of this job (SIGHUP may change it)
        }
        DbContext context{worker.db, worker.audit, key_, guard};
        try {
            job(context);
        } catch (const std::exception& e) {
            log_.error("db.job_failed", {{"error", e.what()}});
        } catch (...) {
            log_.error("db.job_failed", {{"error", "unknown"}});
        }
    }
}

bool DbSequence::submit(DbPool::Job job) {
    {
        const std::lock_guard lock(mutex_);
        if (queue_.size() >= DbPool::kMaxQueued) return false;
        queue_.push_back(std::move(job));
        if (running_) return true;
        running_ = true;
    }
    if (pool_.submit([self = shared_from_this()](DbContext& ctx) { self->drain(ctx); }))
        return true;
    const std::lock_guard lock(mutex_);
    running_ = false;
    queue_.pop_back();
    return false;
}

void DbSequence::drain(DbContext& ctx) {
    while (true) {
        DbPool::Job job;
        {
            const std::lock_guard lock(mutex_);
            if (queue_.empty()) {
                running_ = false;
                return;
            }
            job = std::move(queue_.front());
            queue_.pop_front();
        }
        runRetryingWhileBusy(job, ctx);
    }
}

// Another writer (an online backup, the admin CLI, the PAM module) may hold
// the store past its busy timeout. A job of a sequence records something that
// happened (a session's start or end, a seal, an audit event), so it runs
// again, still in order, until the store takes it: it rolled back, so running
// it again is safe. Each try already waits the busy timeout inside SQLite.
void DbSequence::runRetryingWhileBusy(const DbPool::Job& job, DbContext& ctx) {
    const auto firstTry = std::chrono::steady_clock::now();
    for (int attempt = 1;; ++attempt) {
        try {
            job(ctx);
            if (attempt > 1) log_.info("db.busy_recovered", {{"attempts", attempt}});
            return;
        } catch (const db::BusyError& e) {
            const auto waited = std::chrono::steady_clock::now() - firstTry;
            if (waited >= (pool_.stopping() ? kRetryWhileStopping : kRetryBusyFor)) {
                log_.error("db.job_dropped", {{"error", e.what()}, {"attempts", attempt}});
                return;
            }
            if (attempt == 1) log_.warn("db.busy_retrying", {{"error", e.what()}});
            std::this_thread::sleep_for(kRetryPause);
        } catch (const std::exception& e) {
            log_.error("db.job_failed", {{"error", e.what()}});
            return;
        }
    }
}

}  // namespace portcullis::gateway
