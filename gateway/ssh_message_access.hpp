#pragma once
// libssh 0.10 has no server callback for keyboard-interactive, so the gateway
// uses the message API (ssh_message_get), whose accessors for public keys and
// pty requests are marked deprecated in favour of callbacks that cannot carry
// an asynchronous decision. They are wrapped here, in one place.
#include <libssh/libssh.h>
#include <libssh/server.h>

#include <string>

namespace portcullis::gateway {

ssh_key messagePublicKey(ssh_message msg);  // borrowed
enum ssh_publickey_state_e messagePublicKeyState(ssh_message msg);

struct PtyRequest {
    std::string term;
    int cols = 80;
    int rows = 24;
    int pxWidth = 0;
    int pxHeight = 0;
};
PtyRequest messagePty(ssh_message msg);  // pty-req and window-change

}  // namespace portcullis::gateway
