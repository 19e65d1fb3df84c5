#pragma once
// DbPool: a few threads that do the blocking store work (SQLite) for the
// event threads. Each worker owns its own db::Database connection (and the
// AuditLog over it); a job runs on whichever worker is free and posts its
// result back to the connection's strand itself.
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "common/result.hpp"
#include "db/audit.hpp"
#include "db/database.hpp"
#include "db/master_key.hpp"
#include "db/otp_guard.hpp"
#include "db/state_dir.hpp"
#include "gateway/log.hpp"

namespace portcullis::gateway {

// What a job sees: this worker's connection and the shared read-only state.
struct DbContext {
    db::Database& db;
    db::AuditLog& audit;
    const db::MasterKey& masterKey;
    const db::GuardConfig& guard;
};

class DbPool {
  public:
    using Job = std::function<void(DbContext&)>;
    static constexpr std::size_t kMaxQueued = 4096;

    // `syslog`: the sink every worker's AuditLog sends its copies through.
    static Result<std::unique_ptr<DbPool>> start(const db::StateDir& dir, const db::MasterKey& key,
                                                 const db::GuardConfig& guard, int workers,
                                                 Logger& log,
                                                 std::shared_ptr<db::SyslogSink> syslog);
    DbPool(const db::MasterKey& key, const db::GuardConfig& guard, Logger& log,
           std::shared_ptr<db::SyslogSink> syslog);
    ~DbPool();
    DbPool(const DbPool&) = delete;
    DbPool& operator=(const DbPool&) = delete;

    // Queues a job; false when the queue is full or the pool stopped (the
    // caller fails closed). A job that throws is logged and dropped: jobs
    // catch their own store errors and report them.
    bool submit(Job job);
    // Queues `job` to run once `delay` has passed (a sequence's retry: no
    // worker sleeps meanwhile). Taken even while stopping, since the
    // sequence already holds the job: workers stop once nothing is left.
    void submitAfter(std::chrono::milliseconds delay, Job job);
    void stop();
    bool stopping();
    // master.key (read-only; outlives every connection): recorders seal hidden input with it.
    const db::MasterKey& masterKey() const { return key_; }
    // A reloaded lock-out configuration, for the jobs that start from now on.
    void setGuard(const db::GuardConfig& guard);
    // The syslog sink every worker's AuditLog sends through (its takeDropped()
    // counts the copies syslog did not take, once for the whole pool).
    db::SyslogSink& syslog() { return *syslog_; }

  private:
    struct Worker;
    void run(Worker& worker);

    const db::MasterKey& key_;
    db::GuardConfig guard_;
    Logger& log_;
    std::shared_ptr<db::SyslogSink> syslog_;
    std::mutex mutex_;
    std::condition_variable cv_;
    std::deque<Job> queue_;
    std::multimap<std::chrono::steady_clock::time_point, Job> delayed_;
    bool stopping_ = false;
    std::vector<std::unique_ptr<Worker>> workers_;
};

// Jobs that must run in the order given (one connection's session row, then
// its recordings, their seals and the session's end), one at a time on
// whichever worker is free. A job the store could not take for now runs again,
// still before the next one: while another writer holds the store locked
// (kRetryBusyFor at most) and while its disk is full (kRetryFullFor at most,
// issue 13: the events of a session a full disk ended reach the chain once
// space is freed). Between tries the sequence waits off the workers
// (DbPool::submitAfter), so that retrying sequences never starve the login
// path's jobs. Bounded: at most DbPool::kMaxQueued jobs are kept.
// Thread-safe; kept alive by the jobs in flight.
class DbSequence : public std::enable_shared_from_this<DbSequence> {
  public:
    DbSequence(DbPool& pool, Logger& log) : pool_(pool), log_(log) {}
    // False when the pool refused (queue full or stopped): the caller fails closed.
    bool submit(DbPool::Job job);

    static constexpr auto kRetryBusyFor = std::chrono::minutes(2);
    static constexpr auto kRetryFullFor = std::chrono::minutes(10);
    static constexpr auto kRetryWhileStopping = std::chrono::seconds(10);
    static constexpr auto kRetryPause = std::chrono::milliseconds(200);
    static constexpr auto kRetryFullPause = std::chrono::milliseconds(500);

  private:
    enum class Outcome { done, again };
    void drain(DbContext& ctx);
    Outcome runOnce(const DbPool::Job& job, DbContext& ctx);

    DbPool& pool_;
    Logger& log_;
    std::mutex mutex_;
    std::deque<DbPool::Job> queue_;
    bool running_ = false;
    // The front job's tries (only the one draining touches these).
    std::optional<std::chrono::steady_clock::time_point> firstTry_;
    int attempts_ = 0;
    bool full_ = false;  // its last try failed for a full disk
};

}  // namespace portcullis::gateway
