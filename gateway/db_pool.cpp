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
    auto pool = std::make_unique<DbPool>(key, guard, log, std::move(syslog));
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

DbPool::DbPool(const db::MasterKey& key, const db::GuardConfig& guard, Logger& log,
               std::shared_ptr<db::SyslogSink> syslog)
    : key_(key), guard_(guard), log_(log), syslog_(std::move(syslog)) {}

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

void DbPool::submitAfter(std::chrono::milliseconds delay, Job job) {
    {
        const std::lock_guard lock(mutex_);
        delayed_.emplace(std::chrono::steady_clock::now() + delay, std::move(job));
    }
    cv_.notify_one();
}

void DbPool::run(Worker& worker) {
    while (true) {
        Job job;
        db::GuardConfig guard;
        {
            std::unique_lock lock(mutex_);
            while (true) {
                const auto now = std::chrono::steady_clock::now();
                while (!delayed_.empty() && delayed_.begin()->first <= now) {
                    queue_.push_back(std::move(delayed_.begin()->second));
                    delayed_.erase(delayed_.begin());
                }
                if (!queue_.empty()) break;
                // Drain what is queued even when stopping: those are audit
                // events and session ends of connections being closed.
                if (stopping_ && delayed_.empty()) return;
                if (delayed_.empty()) {
                    cv_.wait(lock);
                } else {
                    cv_.wait_until(lock, delayed_.begin()->first);
                }
            }
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
        const DbPool::Job* job = nullptr;
        {
            const std::lock_guard lock(mutex_);
            if (queue_.empty()) {
                running_ = false;
                return;
            }
            // Only this drain pops; a push_back keeps references to the front.
            job = &queue_.front();
        }
        if (runOnce(*job, ctx) == Outcome::again) {
            // Tried again later, off this worker; later jobs wait behind it.
            pool_.submitAfter(full_ ? kRetryFullPause : kRetryPause,
                              [self = shared_from_this()](DbContext& c) { self->drain(c); });
            return;
        }
        const std::lock_guard lock(mutex_);
        queue_.pop_front();
    }
}

// Another writer (an online backup, the admin CLI, the PAM module) may hold
// the store past its busy timeout, or its disk may be full. A job of a
// sequence records something that happened (a session's start or end, a seal,
// an audit event), so it runs again, still in order, until the store takes it:
// it rolled back, so running it again is safe. Each try while busy already
// waits the busy timeout inside SQLite.
DbSequence::Outcome DbSequence::runOnce(const DbPool::Job& job, DbContext& ctx) {
    const auto now = std::chrono::steady_clock::now();
    if (!firstTry_) {
        firstTry_ = now;
        attempts_ = 0;
    }
    ++attempts_;
    const auto finished = [this] {
        firstTry_.reset();
        full_ = false;
        return Outcome::done;
    };
    const auto retry = [&](const db::Error& e, bool full) {
        const auto waited = std::chrono::steady_clock::now() - *firstTry_;
        const auto bound = pool_.stopping()
                               ? std::chrono::steady_clock::duration(kRetryWhileStopping)
                           : full ? std::chrono::steady_clock::duration(kRetryFullFor)
                                  : std::chrono::steady_clock::duration(kRetryBusyFor);
        if (waited >= bound) {
            log_.error("db.job_dropped",
                       {{"error", e.what()}, {"attempts", attempts_}, {"full", full}});
            return finished();
        }
        if (attempts_ == 1 || full != full_)
            log_.warn(full ? "db.full_retrying" : "db.busy_retrying", {{"error", e.what()}});
        full_ = full;
        return Outcome::again;
    };
    try {
        job(ctx);
        if (attempts_ > 1) {
            log_.info(full_ ? "db.full_recovered" : "db.busy_recovered", {{"attempts", attempts_}});
        }
        return finished();
    } catch (const db::BusyError& e) {
        return retry(e, false);
    } catch (const db::FullError& e) {
        return retry(e, true);
    } catch (const std::exception& e) {
        log_.error("db.job_failed", {{"error", e.what()}});
        return finished();
    }
}

}  // namespace portcullis::gateway
