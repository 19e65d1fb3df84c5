#pragma once
// InstanceLock: one portcullisd per state directory (SPEC §10). Taken before
// the daemon touches the store: a second daemon would otherwise mark the
// first one's live sessions aborted and seal their recordings mid-write.
// An flock(2) on STATE_DIR/portcullisd.lock, held for the process's life
// (the kernel drops it when the process dies, so a crash leaves nothing stale).
#include <sys/types.h>

#include "common/result.hpp"
#include "common/unique_fd.hpp"
#include "db/state_dir.hpp"

namespace portcullis::gateway {

class InstanceLock {
  public:
    // Refuses, naming the other daemon's pid, when another process holds it.
    static Result<InstanceLock> acquire(const db::StateDir& dir);

  private:
    explicit InstanceLock(UniqueFd fd) : fd_(std::move(fd)) {}
    UniqueFd fd_;
};

}  // namespace portcullis::gateway
