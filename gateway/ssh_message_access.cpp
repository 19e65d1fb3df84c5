#include "gateway/ssh_message_access.hpp"

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

namespace portcullis::gateway {

ssh_key messagePublicKey(ssh_message msg) {
    return ssh_message_auth_pubkey(msg);
}

enum ssh_publickey_state_e messagePublicKeyState(ssh_message msg) {
    return ssh_message_auth_publickey_state(msg);
}

PtyRequest messagePty(ssh_message msg) {
    PtyRequest pty;
    const char* term = ssh_message_channel_request_pty_term(msg);
    pty.term = term ? term : "";
    pty.cols = ssh_message_channel_request_pty_width(msg);
    pty.rows = ssh_message_channel_request_pty_height(msg);
    pty.pxWidth = ssh_message_channel_request_pty_pxwidth(msg);
    pty.pxHeight = ssh_message_channel_request_pty_pxheight(msg);
    return pty;
}

}  // namespace portcullis::gateway

#pragma GCC diagnostic pop
