#pragma once
// Groups of accounts, used as grant subjects ("@oncall") and by the PAM module's group=.
#include <string>
#include <vector>

#include "common/result.hpp"
#include "common/time_format.hpp"
#include "db/database.hpp"

namespace portcullis::db {

struct Group {
    std::int64_t id = 0;
    std::string name;
    std::vector<std::string> members;
};

class Groups {
  public:
    explicit Groups(Database& db) : db_(db) {}

    Result<Group> add(const std::string& name, TimePoint now);
    Result<void> remove(const std::string& name);
    Result<void> addMember(const std::string& group, const std::string& account);
    Result<void> removeMember(const std::string& group, const std::string& account);
    std::vector<Group> list();
    std::vector<std::string> groupsOf(const std::string& account);
    bool isMember(const std::string& group, const std::string& account);

  private:
    Database& db_;
};

}  // namespace portcullis::db
