#pragma once
// Owning pointers for the libssh handles the CLI uses.
#include <libssh/libssh.h>

#include <memory>

namespace portcullis::cli {

struct SshKeyFree {
    void operator()(ssh_key key) const { ssh_key_free(key); }
};
struct SshSessionFree {
    void operator()(ssh_session session) const {
        ssh_disconnect(session);
        ssh_free(session);
    }
};
struct SshCharFree {
    void operator()(char* s) const { ssh_string_free_char(s); }
};

using SshKeyPtr = std::unique_ptr<std::remove_pointer_t<ssh_key>, SshKeyFree>;
using SshSessionPtr = std::unique_ptr<std::remove_pointer_t<ssh_session>, SshSessionFree>;
using SshCharPtr = std::unique_ptr<char, SshCharFree>;

}  // namespace portcullis::cli
