#pragma once
// Targets: the hosts behind the gateway, each with a pinned SSH host key.
#include <cstdint>
#include <string>
#include <vector>

#include "common/result.hpp"
#include "common/ssh_public_key.hpp"
#include "common/time_format.hpp"
#include "db/database.hpp"

namespace portcullis::db {

struct Target {
    std::int64_t id = 0;
    std::string name;
    std::string host;
    int port = 22;
    std::string defaultLogin;
    SshPublicKey hostKey;  // pinned
    TimePoint createdAt{};
};

class Targets {
  public:
    explicit Targets(Database& db) : db_(db) {}

    Result<Target> add(const Target& target, TimePoint now);  // id/createdAt ignored
    Result<Target> find(const std::string& name);
    std::vector<Target> list();
    Result<void> remove(const std::string& name);

  private:
    Database& db_;
};

}  // namespace portcullis::db
