#pragma once
// Owning pointers for libssh's C handles: the one set the gateway and the
// admin CLI use (header-only; link portcullis_ssh_handles, which brings
// libssh). Declare owners in the order of dependency so that destruction runs the other way: a
// session's event and channels are declared after (and so destroyed before) the session itself.
#include <libssh/libssh.h>
#include <libssh/server.h>

#include <memory>
#include <string>

#include "common/encoding.hpp"

namespace portcullis {

struct BindDeleter {
    void operator()(ssh_bind b) const { ssh_bind_free(b); }
};
struct SessionDeleter {
    void operator()(ssh_session s) const {
        ssh_disconnect(s);
        ssh_free(s);
    }
};
struct ChannelDeleter {
    void operator()(ssh_channel c) const { ssh_channel_free(c); }
};
struct KeyDeleter {
    void operator()(ssh_key k) const { ssh_key_free(k); }
};
struct EventDeleter {
    void operator()(ssh_event e) const { ssh_event_free(e); }
};
struct MessageDeleter {
    void operator()(ssh_message m) const { ssh_message_free(m); }
};
struct StringDeleter {
    void operator()(ssh_string s) const { ssh_string_free(s); }
};

using BindPtr = std::unique_ptr<ssh_bind_struct, BindDeleter>;
using SessionPtr = std::unique_ptr<ssh_session_struct, SessionDeleter>;
using ChannelPtr = std::unique_ptr<ssh_channel_struct, ChannelDeleter>;
using KeyPtr = std::unique_ptr<ssh_key_struct, KeyDeleter>;
using EventPtr = std::unique_ptr<ssh_event_struct, EventDeleter>;
using MessagePtr = std::unique_ptr<ssh_message_struct, MessageDeleter>;
using SshStringPtr = std::unique_ptr<ssh_string_struct, StringDeleter>;

struct CStringDeleter {
    void operator()(char* p) const { ssh_string_free_char(p); }
};
using CStringPtr = std::unique_ptr<char, CStringDeleter>;

// The wire-format blob of a public key (empty on failure). libssh 0.10 exports
// the blob only as base64, so it is decoded here.
inline std::string publicKeyBlob(ssh_key key) {
    char* raw = nullptr;
    if (key == nullptr || ssh_pki_export_pubkey_base64(key, &raw) != SSH_OK) return {};
    CStringPtr owned(raw);
    auto bytes = base64Decode(owned.get());
    if (!bytes) return {};
    return std::string(bytes->begin(), bytes->end());
}

}  // namespace portcullis
