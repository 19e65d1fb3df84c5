#include "admin_cli/operator_name.hpp"

#include <pwd.h>
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <vector>

namespace portcullis::cli {

std::string operatorName() {
    if (const char* sudoUser = std::getenv("SUDO_USER"); sudoUser && *sudoUser) {
        return sudoUser;
    }
    const uid_t uid = ::getuid();
    std::vector<char> buffer(16384);
    passwd entry{};
    passwd* found = nullptr;
    if (::getpwuid_r(uid, &entry, buffer.data(), buffer.size(), &found) == 0 && found &&
        found->pw_name && *found->pw_name) {
        return found->pw_name;
    }
    return "uid:" + std::to_string(uid);
}

}  // namespace portcullis::cli
